import type { Db } from "../../platform/db/client";
import { Prisma } from "../../db/generated/client";
import { DRY_RUN_COUNT_CAP } from "./contract";

/** Rows a dry run shows as its sample. */
export const DRY_RUN_SAMPLE_SIZE = 10;

/**
 * How many rows of `table` a bulk action would touch: those matching `where` below the
 * operation's upper id, counted along the filter's index up to the cap (past it, `capped` says
 * the count is a lower bound), so a dry run never counts a million rows. Outbox and saga dry
 * runs share it.
 */
export async function countBelowCap(db: Db, table: "outbox_event" | "saga_instance", where: Prisma.Sql, upperId: string) {
  const [counted] = await db.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM (SELECT 1 FROM ${Prisma.raw(table)} WHERE ${where} AND id < ${upperId}::uuid LIMIT ${DRY_RUN_COUNT_CAP + 1}) capped`;
  const n = counted?.n ?? 0;
  return { count: Math.min(n, DRY_RUN_COUNT_CAP), capped: n > DRY_RUN_COUNT_CAP };
}
