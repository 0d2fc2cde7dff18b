#!/usr/bin/env node
/**
 * `npm test`: every suite, in an order that suits 2 cores — static checks, promtool (alert rules), then vitest (unit +
 * integration against the real PostgreSQL and Redis), the same integration tests on a Redis Cluster
 * and through PgBouncer (test:redis-cluster, test:pgbouncer), then the chaos suite (the whole system under
 * faults) and its scale run (HAProxy, 3 web instances, 4 workers), then Playwright (real Chromium; both
 * use the production build, made once).
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
  const status = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", VITE_CONFIG_NATIVE_IGNORE_WARNING: "true" } }).status;
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

// Integration tests race real processes (relays, workers, child processes killed on purpose) on
// 2 shared cores. A test file that failed is run once more, alone, and the re-run's result counts —
// but every test that needed it is named below as flaky, so a flake is never silent.
const flaky = [];
function vitestSuite(name, configArgs) {
  if (!want(name)) return;
  const json = `test-results/${name}.json`;
  rmSync(json, { force: true });
  run(
    name,
    "npx",
    ["vitest", "run", ...configArgs, "--reporter=default", "--reporter=json", `--outputFile.json=${json}`],
    fromJson(json, (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests })),
  );
  const result = results.find((r) => r.name === name);
  if (!result || result.failed === 0 || !existsSync(json)) return;
  const first = JSON.parse(readFileSync(json, "utf8"));
  const failedFiles = first.testResults.filter((f) => f.assertionResults.some((t) => t.status === "failed"));
  if (failedFiles.length === 0 || failedFiles.length > 3) return;
  const failedTitles = failedFiles.flatMap((f) => f.assertionResults.filter((t) => t.status === "failed").map((t) => t.fullName));
  console.log(`\n━━ ${name}: re-running ${failedFiles.length} file(s) with failures once: ${failedFiles.map((f) => f.name).join(", ")}`);
  const rerunJson = `test-results/${name}-rerun.json`;
  const rerun = spawnSync("npx", ["vitest", "run", ...configArgs, ...failedFiles.map((f) => f.name), "--reporter=default", "--reporter=json", `--outputFile.json=${rerunJson}`], {
    stdio: "inherit",
    env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: "true" },
  });
  if (!existsSync(rerunJson)) return;
  const second = JSON.parse(readFileSync(rerunJson, "utf8"));
  const passedSecond = new Set(second.testResults.flatMap((f) => f.assertionResults.filter((t) => t.status === "passed").map((t) => t.fullName)));
  const recovered = failedTitles.filter((t) => passedSecond.has(t));
  flaky.push(...recovered.map((t) => `${name}: ${t}`));
  result.passed += recovered.length;
  result.failed -= recovered.length;
  if (rerun.status !== 0 && result.failed === 0) result.failed = 1;
}

vitestSuite("vitest", []);
// The same integration tests on the engines a scaled-out deployment runs on, each suite starting
// its own servers: a local 3-master Redis Cluster (with a failover under load), and PgBouncer in
// transaction pooling mode (installed from Debian's archive when missing).
vitestSuite("redis-cluster", ["-c", "vitest.redis-cluster.config.ts"]);
vitestSuite("pgbouncer", ["-c", "vitest.pgbouncer.config.ts"]);

// The whole system under faults (test/chaos): each invariant it checks counts as one passed/failed check.
rmSync("test-results/chaos.json", { force: true });
run(
  "chaos",
  "npm",
  ["run", "--silent", "test:chaos"],
  fromJson("test-results/chaos.json", (r) => ({ passed: r.passed, failed: r.failed })),
);

// The same load and invariants through HAProxy against 3 web instances and 4 workers, with random
// SIGKILLs of both, then the cross-instance checks (sessions, cache, idempotency, rate limits).
rmSync("test-results/chaos-scale.json", { force: true });
run(
  "scale",
  "npm",
  ["run", "--silent", "test:scale"],
  fromJson("test-results/chaos-scale.json", (r) => ({ passed: r.passed, failed: r.failed })),
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
