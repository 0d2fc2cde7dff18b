import type { Db } from "../../platform/db/client";
import { sideStatements } from "../../platform/db/side-pool";
import { errorFingerprint } from "../failures/fingerprint";
import { retryDelayMs, type BackoffPolicy } from "./backoff";

/**
 * The relay's SQL: claim due events, then mark them published, failed (with backoff) or released.
 * Every update is guarded by `status = 'publishing' AND claimed_by = <this relay>`, so a relay whose
 * lease ran out and was overtaken can no longer change rows another relay now owns.
 */
export interface ClaimedEvent {
  id: string;
  aggregateType: string;
  aggregateId: string;
  aggregateSeq: number;
  eventType: string;
  payload: unknown;
  headers: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  createdAt: Date;
}

interface ClaimedRow {
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_seq: number;
  event_type: string;
  payload: unknown;
  headers: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  created_at: Date;
}

/**
 * The claim query (its plan is checked in outbox-explain.test.ts):
 * - the due set comes from the partial index outbox_event_due_idx (only pending/failed/publishing
 *   rows are in it; a `publishing` row's next_attempt_at is its lease end, so an expired lease makes
 *   it due again with no second condition);
 * - ordering: an event is skipped while an earlier event of its aggregate is unconsumed (not yet
 *   handled by consumers, whatever its status, unless discarded) — the probe uses the small partial
 *   index outbox_event_unconsumed_idx;
 * - FOR UPDATE SKIP LOCKED: concurrent relays take disjoint batches and never wait for each other;
 * - cost per claim is O(batch), not O(backlog): `OFFSET 0` keeps the ordering probe a per-row
 *   subplan (PostgreSQL would otherwise turn it into an anti-join, and with stale statistics it
 *   chose a merge anti-join that sorts the whole backlog on every claim: 2.8k events/s instead of
 *   the floor's 6.5k in the bench), and `= ANY(ARRAY(...))` updates the claimed rows through the
 *   primary key whatever the planner thinks of the CTE's size.
 */
/** The claim statement itself ($1 batch size, $2 relay id, $3 lease in ms); the bench's bare floor runs the same text. */
export const CLAIM_DUE_SQL = `
    WITH due AS (
      SELECT e.id
      FROM outbox_event e
      WHERE e.status IN ('pending', 'failed', 'publishing')
        AND e.next_attempt_at <= now()
        AND NOT EXISTS (
          SELECT 1 FROM outbox_event p
          WHERE p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id
            AND p.aggregate_seq < e.aggregate_seq
            AND p.consumed_at IS NULL AND p.status <> 'discarded'
          OFFSET 0)
      ORDER BY e.next_attempt_at
      LIMIT $1::int
      FOR UPDATE OF e SKIP LOCKED
    )
    UPDATE outbox_event o
    SET status = 'publishing', claimed_by = $2::text,
        lease_until = now() + $3::int * interval '1 millisecond',
        next_attempt_at = now() + $3::int * interval '1 millisecond'
    WHERE o.id = ANY(ARRAY(SELECT id FROM due))
    RETURNING o.id, o.aggregate_type, o.aggregate_id, o.aggregate_seq, o.event_type, o.payload, o.headers,
              o.attempts, o.max_attempts, o.created_at`;

export async function claimDueEvents(db: Db, opts: { relayId: string; batchSize: number; leaseMs: number }): Promise<ClaimedEvent[]> {
  // Raw pg, not Prisma: a batch of up to 500 rows with their payloads per claim, and Prisma's mapping
  // of every column of every row was measurable relay CPU per event (autocommitted: the side pool's kind).
  const rows = await sideStatements(db).rows<ClaimedRow>(CLAIM_DUE_SQL, [opts.batchSize, opts.relayId, opts.leaseMs]);
  return rows.map((r) => ({
    id: r.id,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    aggregateSeq: r.aggregate_seq,
    eventType: r.event_type,
    payload: r.payload,
    headers: r.headers,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    createdAt: r.created_at,
  }));
}

export async function markPublished(db: Db, relayId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return db.$executeRaw`
    UPDATE outbox_event
    SET status = 'published', published_at = now(), lease_until = NULL, claimed_by = NULL
    WHERE id = ANY(${ids}::uuid[]) AND status = 'publishing' AND claimed_by = ${relayId}`;
}

/** A publish failed for these events: count the attempt, schedule the retry, or give up (`dead`). */
export async function markPublishFailed(
  db: Db,
  relayId: string,
  events: Array<Pick<ClaimedEvent, "id" | "attempts">>,
  error: unknown,
  policy?: BackoffPolicy,
): Promise<number> {
  if (events.length === 0) return 0;
  const { message, stack } = describeError(error);
  const ids = events.map((e) => e.id);
  const delays = events.map((e) => retryDelayMs(e.attempts + 1, policy));
  return db.$executeRaw`
    UPDATE outbox_event o
    SET attempts = o.attempts + 1,
        status = CASE WHEN o.attempts + 1 >= o.max_attempts THEN 'dead'::"OutboxStatus" ELSE 'failed'::"OutboxStatus" END,
        next_attempt_at = now() + d.delay_ms * interval '1 millisecond',
        last_error = ${message}, last_error_stack = ${stack}, last_failed_at = now(),
        failure_fingerprint = ${errorFingerprint({ message, stack })},
        lease_until = NULL, claimed_by = NULL
    FROM unnest(${ids}::uuid[], ${delays}::int[]) AS d(id, delay_ms)
    WHERE o.id = d.id AND o.status = 'publishing' AND o.claimed_by = ${relayId}`;
}

/**
 * Give claimed events back untouched (the broker is unreachable: not the events' fault, so no
 * attempt is counted and nothing goes `dead` however long Redis is down).
 */
export async function releaseClaims(db: Db, relayId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return db.$executeRaw`
    UPDATE outbox_event
    SET status = CASE WHEN attempts = 0 THEN 'pending'::"OutboxStatus" ELSE 'failed'::"OutboxStatus" END,
        next_attempt_at = now(), lease_until = NULL, claimed_by = NULL
    WHERE id = ANY(${ids}::uuid[]) AND status = 'publishing' AND claimed_by = ${relayId}`;
}

export function describeError(error: unknown): { message: string; stack: string | null } {
  if (error instanceof Error) return { message: error.message.slice(0, 2000), stack: error.stack?.slice(0, 8000) ?? null };
  return { message: String(error).slice(0, 2000), stack: null };
}
