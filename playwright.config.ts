import { defineConfig, devices } from "@playwright/test";
import { E2E_PORT, e2eEnv } from "./e2e/env";

// Debian's Chromium (no browser download on this machine); override with CHROMIUM_PATH.
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  fullyParallel: false,
  workers: 1,
  // One retry in CI, as for vitest files: the list reporter and npm test's summary name any flaky test.
  retries: process.env.CI ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["json", { outputFile: "test-results/e2e-results.json" }]],
  use: {
    baseURL: `http://127.0.0.1:${E2E_PORT}`,
    trace: "retain-on-failure",
    acceptDownloads: true,
    launchOptions: {
      executablePath,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  // The built app (`next build` ran before) and the worker, against the e2e database and prefix.
  webServer: [
    {
      command: `npx next start -p ${E2E_PORT} -H 127.0.0.1`,
      url: `http://127.0.0.1:${E2E_PORT}/api/health`,
      env: e2eEnv,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "ignore",
      stderr: "pipe",
    },
    {
      command: "npx tsx worker/index.ts",
      url: `http://127.0.0.1:${E2E_PORT + 1}/healthz`,
      env: e2eEnv,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "ignore",
      stderr: "pipe",
    },
  ],
});
