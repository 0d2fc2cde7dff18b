/**
 * npm run bench — every benchmark in one sitting, one after another, then bench/RESULTS.md: each
 * goal (ratio or count) against its target, met or not, and each bench's own tables, with the
 * machine's core count and load average at the start. Absolute times on a shared 2-core machine
 * swing 2–3×: only ratios (measured within one bench, interleaved) and counts are goals.
 *
 * Each bench prints `GOAL|name|measured|target|met|NOT met` lines (bench/counts.ts goal()); they are
 * collected here. A bench that fails is reported as failed and the others still run.
 *
 * Env: BENCH_QUICK=1 (small sizes: a smoke run while the machine is busy), BENCH_ONLY=saga,outbox,…,
 * BENCH_NOTE (a line for RESULTS.md, e.g. what else ran on the machine).
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const QUICK = process.env.BENCH_QUICK === "1";

const BENCHES: Array<{ name: string; file: string; env: Record<string, string> }> = [
  { name: "saga", file: "bench/saga.ts", env: QUICK ? { BENCH_SAGAS: "400", BENCH_WARMUP: "50", BENCH_LIGHT_COUNT: "80" } : {} },
  { name: "outbox", file: "bench/outbox.ts", env: QUICK ? { BENCH_EVENTS: "3000", BENCH_SECONDS: "3", BENCH_ONLY: "bcq" } : { BENCH_ONLY: "bcq" } },
  { name: "idempotency", file: "bench/idempotency.ts", env: QUICK ? { BENCH_REQUESTS: "300", BENCH_WARMUP: "50" } : {} },
  { name: "cache", file: "bench/cache.ts", env: QUICK ? { BENCH_DURATION: "2", BENCH_ROUNDS: "3" } : {} },
  { name: "metrics", file: "bench/metrics.ts", env: {} },
  // Always at the quick sizes here (100k events): `npm run bench:dashboard` alone seeds the full million.
  { name: "dashboard", file: "bench/dashboard.ts", env: { BENCH_QUICK: "1" } },
];

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  stdout: string;
  goals: Array<{ name: string; measured: string; target: string; met: boolean }>;
}

function run(b: (typeof BENCHES)[number]): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, b.file)], {
      cwd: ROOT,
      env: { ...process.env, ...b.env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      process.stdout.write(d);
    });
    child.once("exit", (code) => {
      const goals = stdout
        .split("\n")
        .filter((l) => l.startsWith("GOAL|"))
        .map((l) => {
          const [, name, measured, target, verdict] = l.split("|");
          return { name: name!, measured: measured!, target: target!, met: verdict === "met" };
        });
      const text = stdout
        .split("\n")
        .filter((l) => !l.startsWith("GOAL|"))
        .join("\n")
        .trim();
      resolve({ name: b.name, ok: code === 0, seconds: (performance.now() - started) / 1000, stdout: text, goals });
    });
  });
}

async function main() {
  const only = process.env.BENCH_ONLY?.split(",");
  const load = os.loadavg().map((n) => n.toFixed(2));
  const startedAt = new Date().toISOString();
  const outcomes: Outcome[] = [];
  for (const b of BENCHES.filter((x) => !only || only.includes(x.name))) {
    process.stderr.write(`\n=== bench: ${b.name} ===\n`);
    outcomes.push(await run(b));
  }
  const goals = outcomes.flatMap((o) => o.goals.map((g) => ({ ...g, bench: o.name })));
  const met = goals.filter((g) => g.met).length;
  const md = [
    "# Benchmark results",
    "",
    `\`npm run bench\`${QUICK ? " (BENCH_QUICK=1: small sizes)" : ""}, started ${startedAt}; ${os.cpus().length} CPU cores, load average at start ${load.join(" / ")} (1 / 5 / 15 min); node ${process.version}.`,
    "",
    process.env.BENCH_NOTE ??
      "Absolute figures on this shared machine swing 2–3× with the load; the goals are ratios measured within one bench and per-unit counts (which do not swing).",
    "",
    `## Goals: ${met} of ${goals.length} met`,
    "",
    "| bench | goal | measured | target | |",
    "|---|---|---:|---:|---|",
    ...goals.map((g) => `| ${g.bench} | ${g.name} | ${g.measured} | ${g.target} | ${g.met ? "met" : "**NOT met**"} |`),
    ...outcomes.filter((o) => !o.ok).map((o) => `| ${o.name} | (bench failed: see its output below) | – | – | **failed** |`),
    "",
    ...outcomes.flatMap((o) => [`## ${o.name} (${o.seconds.toFixed(0)} s${o.ok ? "" : ", FAILED"})`, "", o.stdout || "(no output)", ""]),
  ].join("\n");
  await writeFile(path.join(ROOT, "bench/RESULTS.md"), md);
  process.stderr.write(`\nbench/RESULTS.md written: ${met} of ${goals.length} goals met${outcomes.some((o) => !o.ok) ? "; some benches FAILED" : ""}\n`);
  if (outcomes.some((o) => !o.ok)) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
