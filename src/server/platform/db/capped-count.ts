import { Prisma } from "../../db/generated/client";
import type { Db } from "./client";

/**
 * Counting that costs the same at 10 thousand rows and at 10 million: rows are counted exactly up
 * to `cap` (a LIMITed subquery stops there); past it the answer is PostgreSQL's own row estimate
 * for the same condition (EXPLAIN's plan rows: table statistics, no rows read), flagged
 * `approximate` so a page can say "≈". An exact count of a million published events would read a
 * million index entries on every refresh of the dashboard.
 */
export interface CappedCount {
  count: number;
  /** True when the count is the planner's estimate (more than `cap` rows matched). */
  approximate: boolean;
}

/** Rows counted exactly before the estimate is used instead. */
export const EXACT_COUNT_CAP = 10_000;

/**
 * `from` is `table WHERE condition` as SQL (e.g. Prisma.sql`outbox_event WHERE status = 'published'`);
 * `indexOrder` the columns of the index that serves the condition (e.g. `published_at`). Write enum
 * values as literals, not parameters: the planner matches literals against partial indexes and
 * per-value statistics. The ORDER BY makes the capped count walk that index: without it, for a
 * condition most rows meet, the planner picks a sequential scan that stops after `cap` rows —
 * cheap while the matching rows come first in the heap, a read of the whole table when they do not.
 */
export async function cappedCount(db: Db, from: Prisma.Sql, indexOrder: Prisma.Sql, cap = EXACT_COUNT_CAP): Promise<CappedCount> {
  const [row] = await db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${from} ORDER BY ${indexOrder} LIMIT ${cap + 1}) capped`;
  const exact = row?.n ?? 0;
  if (exact <= cap) return { count: exact, approximate: false };
  const plan = await db.$queryRaw<Array<{ "QUERY PLAN": Array<{ Plan: { "Plan Rows": number } }> }>>`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${from}`;
  const estimate = Math.round(plan[0]?.["QUERY PLAN"][0]?.Plan["Plan Rows"] ?? 0);
  // The estimate can lag behind (statistics are refreshed by autovacuum's ANALYZE): never below what was counted.
  return { count: Math.max(estimate, cap + 1), approximate: true };
}

/** Several capped counts; `approximate` if any of them is. */
export function anyApproximate(...counts: CappedCount[]): boolean {
  return counts.some((c) => c.approximate);
}
