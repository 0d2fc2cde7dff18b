#!/usr/bin/env node
/**
 * `npm test -- promtool`: Prometheus' own checks of deploy/prometheus — the alert rules parse
 * (`promtool check rules`), the example configuration parses (`promtool check config --syntax-only`),
 * and each unit test of alerts.test.yml fires or stays quiet as it says (`promtool test rules`).
 * promtool comes from Debian's `prometheus` package, installed here when missing (as .ci/run does
 * for Chromium). Writes test-results/promtool.json: { passed, failed } checks, one per test case.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

const DIR = "deploy/prometheus";
const results = [];

function sh(command, args, opts = {}) {
  const run = spawnSync(command, args, { encoding: "utf8", ...opts });
  return { status: run.error ? 127 : run.status, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
}

function ensurePromtool() {
  if (sh("promtool", ["--version"]).status === 0) return true;
  console.log("promtool is missing: installing Debian's prometheus package");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => sh("apt-get", ["install", "-y", "--no-install-recommends", "prometheus"], { env, stdio: ["ignore", "ignore", "inherit"] });
  if (install().status !== 0) {
    sh("apt-get", ["update"], { env, stdio: ["ignore", "ignore", "inherit"] });
    install();
  }
  return sh("promtool", ["--version"]).status === 0;
}

function check(name, ok, output) {
  results.push({ name, ok });
  console.log(`${ok ? "PASS" : "FAIL"} ${name}`);
  if (!ok) console.log(output.trim().replace(/^/gm, "    "));
}

if (!ensurePromtool()) {
  check("promtool installed (apt-get install prometheus)", false, "could not install the prometheus package");
} else {
  const rules = sh("promtool", ["check", "rules", `${DIR}/alerts.yml`]);
  check(`promtool check rules ${DIR}/alerts.yml`, rules.status === 0, rules.output);
  const config = sh("promtool", ["check", "config", "--syntax-only", `${DIR}/prometheus.yml`]);
  check(`promtool check config ${DIR}/prometheus.yml`, config.status === 0, config.output);

  // One check per unit test of alerts.test.yml: promtool names the failing ones ("name: …,").
  const tests = parse(readFileSync(`${DIR}/alerts.test.yml`, "utf8")).tests.map((t) => t.name);
  const run = sh("promtool", ["test", "rules", "alerts.test.yml"], { cwd: DIR });
  const failedNames = new Set([...run.output.matchAll(/name: (.*),\s*$/gm)].map((m) => m[1].trim()));
  for (const name of tests) check(`alert unit test: ${name}`, run.status === 0 || !failedNames.has(name), run.output);
  // A failure promtool could not pin on a test (a rule file that does not load) still fails the suite.
  if (run.status !== 0 && failedNames.size === 0) check("promtool test rules alerts.test.yml", false, run.output);
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
mkdirSync("test-results", { recursive: true });
writeFileSync("test-results/promtool.json", JSON.stringify({ passed, failed }, null, 2));
console.log(`promtool: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
