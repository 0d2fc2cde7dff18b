import type { Db } from "../../platform/db/client";
import { describeError } from "./relay-store";
import { errorFingerprint } from "../failures/fingerprint";
import { retryDelayMs, type BackoffPolicy } from "./backoff";

/**
 * The reconciler's SQL. An event that is `published` but not consumed is "in flight": its BullMQ job
 * is the only thing that will ever consume it. If Redis loses that job (restarted empty, FLUSHALL,
 * eviction) or the job ends without consuming it (failed and removed, stalled out), nothing in
 * Redis will bring it back, and every later event of its aggregate waits behind it forever. So
 * PostgreSQL must be enough: in-flight events older than a deadline are looked at (their job's state
 * in Redis is checked by the caller), and those whose job is gone are handed back to the relay as
 * `pending`, the normal path (which keeps per-aggregate order: an in-flight event is always the
 * earliest unconsumed one of its aggregate, so the relay may claim it at once).
 */

/** OUTBOX_STALLED_AFTER_MS's default: the web process and the worker must agree on it. */
export const DEFAULT_STALLED_AFTER_MS = 60_000;

/** Why the reconciler sent an event again (also the metric's label). */
export const reconcileReasons = ["job_missing", "job_failed", "job_completed"] as const;
export type ReconcileReason = (typeof reconcileReasons)[number];

export interface InFlightEvent {
  id: string;
  publishedAt: Date;
}

/** Where a scan of the in-flight events left off: rounds walk the whole set, not its first page. */
export type InFlightCursor = { publishedAt: Date; id: string } | null;

/**
 * In-flight events published more than `stalledAfterMs` ago, oldest first, after `cursor`: served
 * by the partial index outbox_event_inflight_idx (published_at, id), which only holds in-flight rows.
 */
export async function findStalledEvents(db: Db, opts: { stalledAfterMs: number; limit: number; after?: InFlightCursor }): Promise<InFlightEvent[]> {
  const after = opts.after ?? null;
  const rows = await db.$queryRaw<Array<{ id: string; published_at: Date }>>`
    SELECT id, published_at FROM outbox_event
    WHERE status = 'published' AND consumed_at IS NULL
      AND published_at < now() - ${opts.stalledAfterMs}::int * interval '1 millisecond'
      AND (${after === null}::boolean OR (published_at, id) > (${after?.publishedAt ?? new Date(0)}::timestamptz, ${after?.id ?? "00000000-0000-0000-0000-000000000000"}::uuid))
    ORDER BY published_at, id
    LIMIT ${opts.limit}::int`;
  return rows.map((r) => ({ id: r.id, publishedAt: r.published_at }));
}

/**
 * Hand stalled events back to the relay and count them, in one statement. Guarded so that a second
 * reconciler (another worker), an operator's retry, or a consumer that finished meanwhile wins: only
 * rows still in flight and still past the deadline change. No attempt is counted (losing a job is
 * not the event's fault). Returns the ids sent again with their reasons.
 */
export async function requeueStalledEvents(
  db: Db,
  items: Array<{ id: string; reason: ReconcileReason }>,
  opts: { stalledAfterMs: number },
): Promise<Array<{ id: string; reason: ReconcileReason }>> {
  if (items.length === 0) return [];
  const rows = await db.$queryRaw<Array<{ id: string; reason: ReconcileReason }>>`
    WITH input AS (
      SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.reason)}::text[]) AS t(id, reason)
    ), done AS (
      UPDATE outbox_event o
      SET status = CASE WHEN o.attempts = 0 THEN 'pending'::"OutboxStatus" ELSE 'failed'::"OutboxStatus" END,
          next_attempt_at = now(), lease_until = NULL, claimed_by = NULL,
          last_error = left('reconciler: sent again (' || i.reason || ')' || coalesce(E'\n' || o.last_error, ''), 2000)
      FROM input i
      WHERE o.id = i.id AND o.status = 'published' AND o.consumed_at IS NULL
        AND o.published_at < now() - ${opts.stalledAfterMs}::int * interval '1 millisecond'
      RETURNING o.id, i.reason
    ), counted AS (
      INSERT INTO outbox_reconcile_stat (reason, total, last_at)
      SELECT reason, count(*), now() FROM done GROUP BY reason
      ON CONFLICT (reason) DO UPDATE SET total = outbox_reconcile_stat.total + excluded.total, last_at = excluded.last_at
      RETURNING reason
    )
    SELECT d.id::text AS id, d.reason FROM done d`;
  // Wake the relays now rather than at their next poll (sent at commit; this statement is its own).
  if (rows.length > 0) await db.$executeRaw`SELECT pg_notify('outbox_event', 'reconciled')`;
  return rows;
}

/** Events in flight longer than the deadline: the dashboard's "stalled" count and the gauge. */
export async function countStalledEvents(db: Db, opts: { stalledAfterMs: number }): Promise<number> {
  const [row] = await db.$queryRaw<Array<{ n: bigint }>>`
    SELECT count(*) AS n FROM outbox_event
    WHERE status = 'published' AND consumed_at IS NULL
      AND published_at < now() - ${opts.stalledAfterMs}::int * interval '1 millisecond'`;
  return Number(row?.n ?? 0);
}

/** Events the reconciler sent again, per reason, since the table was created (all processes). */
export async function reconcileTotals(db: Db): Promise<Record<ReconcileReason, number>> {
  const rows = await db.$queryRaw<Array<{ reason: string; total: bigint }>>`SELECT reason, total FROM outbox_reconcile_stat`;
  const totals = Object.fromEntries(reconcileReasons.map((r) => [r, 0])) as Record<ReconcileReason, number>;
  for (const row of rows) if ((reconcileReasons as readonly string[]).includes(row.reason)) totals[row.reason as ReconcileReason] = Number(row.total);
  return totals;
}

/**
 * A consumer job ended for good without consuming its event because BullMQ gave up on it (it
 * stalled too often: the workers running it died). That is the machinery's failure, not a verdict
 * on the event, so it goes back to the relay's retry path with backoff, counting one attempt; an
 * event that keeps killing workers ends `dead` after max_attempts, like a publish that keeps failing.
 * The event may still be `publishing` (its relay's published mark is deferred): it counts as in flight.
 */
export async function recordStalledOut(db: Db, eventId: string, error: unknown, policy?: BackoffPolicy): Promise<number> {
  const { message, stack } = describeError(error);
  const row = await db.outboxEvent.findUnique({ where: { id: eventId }, select: { attempts: true } });
  if (!row) return 0;
  const delayMs = retryDelayMs(row.attempts + 1, policy);
  return db.$executeRaw`
    UPDATE outbox_event
    SET attempts = attempts + 1,
        status = CASE WHEN attempts + 1 >= max_attempts THEN 'dead'::"OutboxStatus" ELSE 'failed'::"OutboxStatus" END,
        next_attempt_at = now() + ${delayMs}::int * interval '1 millisecond',
        last_error = ${`consumer job: ${message}`}, last_error_stack = ${stack}, last_failed_at = now(),
        failure_fingerprint = ${errorFingerprint({ message: `consumer job: ${message}`, stack })},
        lease_until = NULL, claimed_by = NULL
    WHERE id = ${eventId}::uuid AND status IN ('published', 'publishing') AND consumed_at IS NULL`;
}
