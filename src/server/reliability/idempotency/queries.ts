import type { Db } from "../../platform/db/client";
import { Prisma } from "../../db/generated/client";
import { cappedCount } from "../../platform/db/capped-count";
import { deserializeOutcome, type StoredOutcome } from "./outcome";
import { parseScope } from "./scope";

/** Read side for the operator dashboard: PostgreSQL is the truth about records. */

export interface RecordsByState {
  inProgress: number;
  completed: number;
  /** in_progress with a lease that has run out: a request died (or is slow) and a retry will take over. */
  abandoned: number;
  /** Past expiry, waiting for the clean-up job. */
  expired: number;
  total: number;
  /**
   * The counts that are the planner's estimates, not exact (past EXACT_COUNT_CAP rows: see
   * platform/db/capped-count.ts). In-progress and abandoned records are always counted exactly.
   */
  estimated: Array<"completed" | "expired" | "total">;
}

/**
 * Records by state, at a cost that does not grow with the table: in-progress records (the few
 * without completed_at) are counted exactly from their partial index; completed, expired and the
 * total are exact up to EXACT_COUNT_CAP and estimated past it.
 */
export async function countRecordsByState(db: Db): Promise<RecordsByState> {
  const [open] = await db.$queryRaw<Array<{ in_progress: number; abandoned: number }>>`
    SELECT count(*)::int AS in_progress, count(*) FILTER (WHERE lease_until < now())::int AS abandoned
    FROM idempotency_key WHERE completed_at IS NULL`;
  const completed = await cappedCount(db, Prisma.sql`idempotency_key WHERE completed_at IS NOT NULL`, Prisma.sql`id`);
  const expired = await cappedCount(db, Prisma.sql`idempotency_key WHERE expires_at <= now()`, Prisma.sql`expires_at`);
  const inProgress = open?.in_progress ?? 0;
  const estimated: RecordsByState["estimated"] = [];
  if (completed.approximate) estimated.push("completed", "total");
  if (expired.approximate) estimated.push("expired");
  return {
    inProgress,
    completed: completed.count,
    abandoned: open?.abandoned ?? 0,
    expired: expired.count,
    total: inProgress + completed.count,
    estimated,
  };
}

export interface IdempotencyRecordView {
  id: string;
  key: string;
  userId: string;
  procedure: string;
  state: "in_progress" | "completed";
  fingerprint: string;
  responseStatus: number | null;
  /** The stored outcome (data or error) exactly as a replay would answer it. */
  outcome: StoredOutcome | null;
  leaseUntil: Date | null;
  createdAt: Date;
  completedAt: Date | null;
  expiresAt: Date;
}

export interface RecordQuery {
  /** Exact key (the header value a client sent). */
  key?: string;
  userId?: string;
  procedure?: string;
  state?: "in_progress" | "completed";
  /** Keyset cursor: the id of the last row of the previous page (ids are UUIDv7: newest first). */
  cursor?: string;
  limit: number;
}

export async function listIdempotencyRecords(db: Db, query: RecordQuery): Promise<{ items: IdempotencyRecordView[]; nextCursor: string | null }> {
  const where: Prisma.IdempotencyKeyWhereInput = {
    ...(query.key !== undefined ? { key: query.key } : {}),
    // completed_at is null exactly when a record is in progress: saying so lets the planner use the
    // small partial index of in-progress records (it cannot match the state parameter against one).
    ...(query.state ? { state: query.state, ...(query.state === "in_progress" ? { completedAt: null } : {}) } : {}),
    ...(query.cursor ? { id: { lt: query.cursor } } : {}),
    // A user's records page on (user_id, id): user_id is the scope's user part, set by a trigger on
    // every write (a trigram lookup of a UUID prefix matched nearly every row). User and procedure
    // together are one scope: the (scope, key) unique index. That page reads every record of the
    // scope and sorts them (its cost follows the scope's history); an index on (scope, id) would
    // bound it by the page size. Giving user_id beside the scope was tried and not kept: with
    // statistics it only turned the bitmap into a BitmapAnd (104 → 110 buffers at 1M records).
    ...(query.userId && query.procedure
      ? { scope: `${query.userId}:${query.procedure}` }
      : query.userId
        ? { userId: query.userId }
        : query.procedure
          ? { scope: { endsWith: `:${query.procedure}` } }
          : {}),
  };
  const rows = await db.idempotencyKey.findMany({
    where,
    orderBy: { id: "desc" },
    take: query.limit + 1,
    select: {
      id: true,
      key: true,
      scope: true,
      state: true,
      fingerprint: true,
      responseStatus: true,
      result: true,
      leaseUntil: true,
      createdAt: true,
      completedAt: true,
      expiresAt: true,
    },
  });
  const page = rows.slice(0, query.limit);
  return {
    items: page.map(({ scope, result, ...row }) => ({
      ...row,
      ...parseScope(scope),
      outcome: result === null ? null : deserializeOutcome(result),
    })),
    nextCursor: rows.length > query.limit ? page.at(-1)!.id : null,
  };
}
