#!/usr/bin/env node
/**
 * `npm test`: every suite, in an order that suits 2 cores — static checks, promtool (alert rules), then vitest (unit +
 * integration against the real PostgreSQL and Redis), then the chaos suite (the whole system under
 * faults), then Playwright (real Chromium; both use the production build, made once).
 * Each suite writes a JSON report; the last line sums them: `total: N passed, N failed`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";

const only = process.argv.slice(2); // e.g. `npm test -- vitest` runs one suite
const want = (name) => only.length === 0 || only.includes(name);
mkdirSync("test-results", { recursive: true });

const results = [];
function run(name, command, args, count) {
  if (!want(name)) return;
  console.log(`\n━━ ${name}: ${command} ${args.join(" ")}`);
  const started = Date.now();
  const status = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } }).status;
  const { passed, failed } = count(status);
  results.push({ name, passed, failed, seconds: Math.round((Date.now() - started) / 1000) });
}

const asOneCheck = (status) => (status === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });

function fromJson(file, read) {
  return (status) => {
    if (!existsSync(file)) return { passed: 0, failed: 1 }; // the suite did not even report: a failure
    const counts = read(JSON.parse(readFileSync(file, "utf8")));
    // A non-zero exit with no failed test (e.g. a crash in setup) still counts as a failure.
    if (status !== 0 && counts.failed === 0) counts.failed = 1;
    return counts;
  };
}

run("typecheck", "npx", ["tsc", "--noEmit", "-p", "."], asOneCheck);
run("lint", "npx", ["eslint", "."], asOneCheck);

// Prometheus' own checks of deploy/prometheus (rules, config, alert unit tests); it installs promtool
// when missing, which the vitest metrics test (promtool check metrics) then uses too.
rmSync("test-results/promtool.json", { force: true });
run("promtool", "node", ["scripts/check-prometheus.mjs"], fromJson("test-results/promtool.json", (r) => ({ passed: r.passed, failed: r.failed })));

rmSync("test-results/vitest.json", { force: true });
run(
  "vitest",
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", "--outputFile.json=test-results/vitest.json"],
  fromJson("test-results/vitest.json", (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests })),
);

// Integration tests race real processes (relays, workers, child processes killed on purpose) on
// 2 shared cores. A test file that failed is run once more, alone, and the re-run's result counts —
// but every test that needed it is named below as flaky, so a flake is never silent.
const flaky = [];
const vitestResult = results.find((r) => r.name === "vitest");
if (vitestResult && vitestResult.failed > 0 && existsSync("test-results/vitest.json")) {
  const first = JSON.parse(readFileSync("test-results/vitest.json", "utf8"));
  const failedFiles = first.testResults.filter((f) => f.assertionResults.some((t) => t.status === "failed"));
  if (failedFiles.length > 0 && failedFiles.length <= 3) {
    const failedTitles = failedFiles.flatMap((f) => f.assertionResults.filter((t) => t.status === "failed").map((t) => t.fullName));
    console.log(`\n━━ vitest: re-running ${failedFiles.length} file(s) with failures once: ${failedFiles.map((f) => f.name).join(", ")}`);
    const rerun = spawnSync("npx", ["vitest", "run", ...failedFiles.map((f) => f.name), "--reporter=default", "--reporter=json", "--outputFile.json=test-results/vitest-rerun.json"], { stdio: "inherit" });
    if (existsSync("test-results/vitest-rerun.json")) {
      const second = JSON.parse(readFileSync("test-results/vitest-rerun.json", "utf8"));
      const passedSecond = new Set(second.testResults.flatMap((f) => f.assertionResults.filter((t) => t.status === "passed").map((t) => t.fullName)));
      const recovered = failedTitles.filter((t) => passedSecond.has(t));
      flaky.push(...recovered);
      vitestResult.passed += recovered.length;
      vitestResult.failed -= recovered.length;
      if (rerun.status !== 0 && vitestResult.failed === 0) vitestResult.failed = 1;
    }
  }
}

// The whole system under faults (test/chaos): each invariant it checks counts as one passed/failed check.
rmSync("test-results/chaos.json", { force: true });
run(
  "chaos",
  "npm",
  ["run", "--silent", "test:chaos"],
  fromJson("test-results/chaos.json", (r) => ({ passed: r.passed, failed: r.failed })),
);

rmSync("test-results/e2e-results.json", { force: true });
run(
  "e2e",
  "npm",
  ["run", "--silent", "test:e2e"],
  fromJson("test-results/e2e-results.json", (r) => {
    if (r.stats.flaky) flaky.push(`${r.stats.flaky} Playwright test(s): marked "flaky" in the list above`);
    return { passed: r.stats.expected + (r.stats.flaky ?? 0), failed: r.stats.unexpected };
  }),
);

console.log("\n━━ summary");
for (const r of results) console.log(`${r.name.padEnd(10)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(4)} failed  (${r.seconds}s)`);
for (const title of flaky) console.log(`flaky (failed, then passed when re-run alone): ${title}`);
const passed = results.reduce((s, r) => s + r.passed, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
