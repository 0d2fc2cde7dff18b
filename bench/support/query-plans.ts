/**
 * Timing a dashboard query function; the capture of its statements and the reading of their plans
 * live in test/support/query-plans.ts (the plan tests use them too) and are re-exported here.
 */
import { percentile } from "../support";
import type { PlanSummary } from "../../test/support/query-plans";

export { captureStatements, explainAll, sharedBuffers, type Captured, type PlanSummary } from "../../test/support/query-plans";

/** Node labels a reader needs (joins, sorts and scans), without the plumbing nodes. */
export function shortPlan(p: PlanSummary): string {
  const skip = new Set(["Result", "Limit", "Subquery Scan", "Materialize", "Append", "CTE Scan", "Aggregate", "Unique"]);
  return p.nodes.filter((n) => !skip.has(n.replace(/\(.*$/, ""))).join(", ");
}

/** p50 and p95 (ms) of `reps` calls of `fn`, after `warmup` calls. */
export async function timeCalls(fn: () => Promise<unknown>, reps: number, warmup = 2): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

export const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/**
 * p50/p95 (ms) of `a` and `b`, called in alternation (a, b, a, b …, after `warmup` calls of each),
 * so whatever else loads the shared machine weighs on both alike: their ratio is the measurement.
 */
export async function timeInterleaved(a: () => Promise<unknown>, b: () => Promise<unknown>, reps: number, warmup = 2) {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < reps; i++) {
    for (const [fn, into] of i % 2 ? ([[b, tb], [a, ta]] as const) : ([[a, ta], [b, tb]] as const)) {
      const t = performance.now();
      await fn();
      into.push(performance.now() - t);
    }
  }
  ta.sort((x, y) => x - y);
  tb.sort((x, y) => x - y);
  return { a: { p50: percentile(ta, 50), p95: percentile(ta, 95), samples: ta }, b: { p50: percentile(tb, 50), p95: percentile(tb, 95), samples: tb } };
}
