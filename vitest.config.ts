import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: [
      { find: /^~\//, replacement: `${path.join(import.meta.dirname, "src")}/` },
      // Shared test helpers and fixtures (test/support, test/fixtures), from any test file.
      { find: /^~test\//, replacement: `${path.join(import.meta.dirname, "test")}/` },
    ],
  },
  test: {
    include: ["src/**/*.test.ts", "worker/**/*.test.ts", "test/**/*.test.ts"],
    // Suites that start servers of their own run on their own: npm run test:redis-cluster / test:pgbouncer.
    exclude: ["**/node_modules/**", "test/cluster/**", "test/pgbouncer/**"],
    // Builds (or reuses) the migrated template database; see test/support/database.ts.
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
