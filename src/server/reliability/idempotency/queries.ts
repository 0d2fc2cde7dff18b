import type { Db, Prisma } from "../../platform/db/client";
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
}

export async function countRecordsByState(db: Db): Promise<RecordsByState> {
  const [row] = await db.$queryRaw<Array<{ in_progress: bigint; completed: bigint; abandoned: bigint; expired: bigint; total: bigint }>>`
    SELECT count(*) FILTER (WHERE state = 'in_progress') AS in_progress,
           count(*) FILTER (WHERE state = 'completed') AS completed,
           count(*) FILTER (WHERE state = 'in_progress' AND lease_until < now()) AS abandoned,
           count(*) FILTER (WHERE expires_at <= now()) AS expired,
           count(*) AS total
    FROM idempotency_key`;
  return {
    inProgress: Number(row?.in_progress ?? 0),
    completed: Number(row?.completed ?? 0),
    abandoned: Number(row?.abandoned ?? 0),
    expired: Number(row?.expired ?? 0),
    total: Number(row?.total ?? 0),
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
    ...(query.state ? { state: query.state } : {}),
    ...(query.cursor ? { id: { lt: query.cursor } } : {}),
    ...(query.userId && query.procedure
      ? { scope: `${query.userId}:${query.procedure}` }
      : query.userId
        ? { scope: { startsWith: `${query.userId}:` } }
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
