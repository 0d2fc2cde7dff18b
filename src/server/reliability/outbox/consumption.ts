import { v7 as uuidv7 } from "uuid";
import type { Db } from "../../platform/db/client";
import { inTransaction, type Tx } from "../../platform/db/transaction";
import { sideTransaction } from "../../platform/db/side-pool";
import { errorFingerprint } from "../failures/fingerprint";
import { createMicroBatcher } from "../../platform/micro-batcher";
import { describeError } from "./relay-store";

/**
 * One delivery attempt of an event to a consumer, as the worker saw it begin. Its outcome is written
 * with the outcome itself, so the history and the event's state can never disagree: a success in
 * the inbox row that commits with the effect (inbox_entry's attempt columns: no second row per event
 * on the hot path), a duplicate or a failure as a row of outbox_delivery_attempt. Both are the event
 * page's attempts and the trace page's consumer runs (readers take both).
 */
export interface DeliveryAttempt {
  /** The BullMQ attempt (1 for the first delivery). */
  attempt: number;
  /** When this consumer started on the event (ms since epoch). */
  startedAt: number;
  /** host:pid of the worker process. */
  worker: string;
  /** Fixed when the attempt ended, if it is recorded later (the final failure's listener). */
  durationMs?: number;
}

/** How an attempt ended: its effect committed, the inbox said an earlier delivery had done it, or it threw. */
export type DeliveryOutcome = "succeeded" | "duplicate" | "failed";

interface AttemptRow {
  id: string;
  eventId: string;
  consumer: string;
  attempt: number;
  outcome: DeliveryOutcome;
  startedAt: number;
  durationMs: number;
  error: string | null;
  worker: string;
}

function attemptRow(eventId: string, consumer: string, a: DeliveryAttempt, outcome: DeliveryOutcome, error: string | null, id = uuidv7()): AttemptRow {
  return { id, eventId, consumer, attempt: a.attempt, outcome, startedAt: a.startedAt, durationMs: a.durationMs ?? Math.max(0, Date.now() - a.startedAt), error, worker: a.worker };
}

/** The rows as the array parameters of `unnest` (one statement whatever the number of rows). */
function attemptArrays(rows: AttemptRow[]) {
  return {
    ids: rows.map((r) => r.id),
    events: rows.map((r) => r.eventId),
    consumers: rows.map((r) => r.consumer),
    attempts: rows.map((r) => r.attempt),
    outcomes: rows.map((r) => r.outcome),
    starts: rows.map((r) => new Date(r.startedAt).toISOString()),
    durations: rows.map((r) => r.durationMs),
    errors: rows.map((r) => r.error),
    workers: rows.map((r) => r.worker),
  };
}

async function insertAttempts(tx: Db | Tx, rows: AttemptRow[]): Promise<void> {
  if (rows.length === 0) return;
  const a = attemptArrays(rows);
  await tx.$executeRaw`
    INSERT INTO outbox_delivery_attempt (id, event_id, consumer, attempt, outcome, started_at, duration_ms, error, worker)
    SELECT * FROM unnest(${a.ids}::uuid[], ${a.events}::uuid[], ${a.consumers}::text[], ${a.attempts}::int[],
                         ${a.outcomes}::"DeliveryOutcome"[], ${a.starts}::timestamptz[], ${a.durations}::int[], ${a.errors}::text[], ${a.workers}::text[])
    ON CONFLICT (id) DO NOTHING`;
}

/**
 * The consumer side of the outbox: the inbox (one row per consumer and event) makes each handler's
 * effect happen once even when BullMQ delivers a job twice, because the inbox row and the effect
 * commit in one transaction.
 */
export async function handleOnce(
  db: Db,
  consumer: string,
  eventId: string,
  effect: (tx: Tx) => Promise<void>,
  attempt?: DeliveryAttempt,
): Promise<"handled" | "duplicate"> {
  return inTransaction(db, async (tx) => {
    // The inbox row carries the attempt (a success); its duration runs to this statement.
    const started = attempt ? new Date(attempt.startedAt).toISOString() : null;
    const duration = attempt ? (attempt.durationMs ?? Math.max(0, Date.now() - attempt.startedAt)) : null;
    const inserted = await tx.$executeRaw`
      INSERT INTO inbox_entry (consumer, event_id, attempt, started_at, duration_ms, worker)
      VALUES (${consumer}, ${eventId}::uuid, ${attempt?.attempt ?? null}::int, ${started}::timestamptz, ${duration}::int, ${attempt?.worker ?? null})
      ON CONFLICT DO NOTHING`;
    // Someone (an earlier delivery) already committed this consumer's effect for this event.
    const outcome = inserted === 0 ? "duplicate" : "handled";
    if (outcome === "handled") await effect(tx);
    // A duplicate's attempt commits here too: in the history exactly when it happened.
    else if (attempt) await insertAttempts(tx, [attemptRow(eventId, consumer, attempt, "duplicate", null)]);
    return outcome;
  });
}

/**
 * The consumed mark as CTEs of a larger statement: `done` marks the events consumed, `waiting` says
 * whether a next event of one of their aggregates is waiting. Only then does the statement NOTIFY
 * (sent at commit, see consumedNotify) to wake the relays at once; otherwise there is nothing for
 * them to do, and a wake-up per batch would only cost claim queries.
 * An event still `publishing` (its relay defers its published mark, see the relay's
 * outbox-published-marks.ts) is marked published here too, in the same row version: the relay's
 * mark, guarded by `status = 'publishing'`, then leaves it alone. No update of outbox_event can be
 * HOT, so a row version saved is a write to every index saved.
 */
function consumedMarkCtes(idsParam: string) {
  return `
    done AS (
      UPDATE outbox_event
      SET consumed_at = now(),
          status = CASE WHEN status = 'publishing' THEN 'published'::"OutboxStatus" ELSE status END,
          published_at = CASE WHEN status = 'publishing' THEN coalesce(published_at, now()) ELSE published_at END,
          lease_until = CASE WHEN status = 'publishing' THEN NULL ELSE lease_until END,
          claimed_by = CASE WHEN status = 'publishing' THEN NULL ELSE claimed_by END
      WHERE id = ANY(${idsParam}::uuid[]) AND consumed_at IS NULL
      RETURNING aggregate_type, aggregate_id, aggregate_seq
    ), waiting AS (
      SELECT EXISTS (
        SELECT 1 FROM done d
        WHERE EXISTS (
          SELECT 1 FROM outbox_event w
          WHERE w.aggregate_type = d.aggregate_type AND w.aggregate_id = d.aggregate_id
            AND w.aggregate_seq > d.aggregate_seq AND w.consumed_at IS NULL AND w.status <> 'discarded')
      ) AS yes
    )`;
}
const consumedNotify = `CASE WHEN waiting.yes THEN (SELECT 1 FROM pg_notify('outbox_event', 'consumed')) END`;

const MARK_CONSUMED_SQL = `
    WITH ${consumedMarkCtes("$1")}
    SELECT (SELECT count(*) FROM done) AS n, ${consumedNotify} AS notified FROM waiting`;

/** Every consumer has handled these events: the next event of each aggregate may now be published. */
export async function markConsumed(db: Db | Tx, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db.$queryRawUnsafe<Array<{ n: bigint }>>(MARK_CONSUMED_SQL, ids);
  return Number(rows[0]?.n ?? 0);
}

/**
 * A consumer failed on an event. Until its retries run out the error is only recorded (the
 * dashboard shows it); after the last one the event is `dead` and blocks its aggregate until an
 * operator retries or discards it.
 */
export async function recordConsumerFailure(
  db: Db,
  eventId: string,
  consumer: string,
  error: unknown,
  final: boolean,
  attempt?: DeliveryAttempt & { id: string },
): Promise<void> {
  const { message, stack } = describeError(error);
  const text = `consumer ${consumer}: ${message}`;
  const fingerprint = errorFingerprint({ message: text, stack });
  // The failed attempt is kept in the same statement as the event's last error (the listener may
  // write a final failure more than once while it retries: the attempt's id makes that a no-op).
  const row = attempt ? attemptRow(eventId, consumer, attempt, "failed", message, attempt.id) : null;
  const a = attemptArrays(row ? [row] : []);
  await db.$executeRaw`
    WITH att AS (
      INSERT INTO outbox_delivery_attempt (id, event_id, consumer, attempt, outcome, started_at, duration_ms, error, worker)
      SELECT x.* FROM unnest(${a.ids}::uuid[], ${a.events}::uuid[], ${a.consumers}::text[], ${a.attempts}::int[],
                             ${a.outcomes}::"DeliveryOutcome"[], ${a.starts}::timestamptz[], ${a.durations}::int[], ${a.errors}::text[], ${a.workers}::text[]) AS x
      WHERE EXISTS (SELECT 1 FROM outbox_event WHERE id = ${eventId}::uuid)
      ON CONFLICT (id) DO NOTHING
    )
    UPDATE outbox_event
    SET status = CASE WHEN ${final} THEN 'dead'::"OutboxStatus" ELSE status END,
        last_error = ${text}, last_error_stack = ${stack}, last_failed_at = now(), failure_fingerprint = ${fingerprint},
        lease_until = CASE WHEN ${final} THEN NULL ELSE lease_until END,
        claimed_by = CASE WHEN ${final} THEN NULL ELSE claimed_by END
    WHERE id = ${eventId}::uuid AND consumed_at IS NULL`;
}

type InboxItem = {
  consumer: string;
  eventId: string;
  /** This is the event's last consumer: mark the event consumed in the same transaction. */
  markConsumed: boolean;
  attempt?: DeliveryAttempt;
  effect: (tx: Tx) => Promise<void>;
  /** The effect never uses its transaction (it acts outside the database): the batch may run on raw pg. */
  txFree?: boolean;
};

/**
 * One inbox batch in ONE transaction of three round trips (BEGIN, one statement, COMMIT), with each
 * new item's effect run between the statement and the commit. The statement inserts the inbox rows
 * (each with its attempt: a success), keeps a duplicate's attempt (an earlier delivery did the work)
 * in outbox_delivery_attempt, and marks consumed the events whose last consumer this is; it all
 * commits with the effects or not at all. An attempt's duration runs to that statement (batched
 * effects are short by contract).
 * The items travel as ONE json parameter (jsonb_to_recordset): Prisma serialises each element of an
 * array parameter on its own, which was measurable CPU per event; one string is one value.
 */
async function handleInboxBatch(db: Db, batch: InboxItem[]): Promise<Array<"handled" | "duplicate">> {
  const now = Date.now();
  const items = JSON.stringify(
    batch.map((b, i) => ({
      pos: i + 1,
      consumer: b.consumer,
      event_id: b.eventId,
      ...(b.attempt
        ? { attempt: b.attempt.attempt, started_at: new Date(b.attempt.startedAt).toISOString(), duration_ms: b.attempt.durationMs ?? Math.max(0, now - b.attempt.startedAt), worker: b.attempt.worker }
        : {}),
    })),
  );
  // Duplicates too: an earlier delivery may have died between its effect and this mark.
  const toMark = [...new Set(batch.filter((b) => b.markConsumed).map((b) => b.eventId))];
  const outcomes = (rows: Array<{ fresh: boolean }>) => batch.map((_, i) => (rows[i]?.fresh === true ? ("handled" as const) : ("duplicate" as const)));
  // No effect needs the transaction as a Prisma client (txFree): the same statement and commit on
  // raw pg, without an interactive Prisma transaction's CPU per batch.
  const raw = batch.every((b) => b.txFree) ? sideTransaction(db) : undefined;
  if (raw) {
    return raw(async (sql) => {
      const out = outcomes(await sql.rows<{ fresh: boolean }>(INBOX_BATCH_SQL, [items, toMark]));
      for (const [i, item] of batch.entries()) if (out[i] === "handled") await item.effect(NO_TX);
      return out;
    });
  }
  return inTransaction(db, async (tx) => {
    const out = outcomes(await tx.$queryRawUnsafe<Array<{ fresh: boolean }>>(INBOX_BATCH_SQL, items, toMark));
    for (const [i, item] of batch.entries()) if (out[i] === "handled") await item.effect(tx);
    return out;
  });
}

/** $1: the items (json), $2: the ids to mark consumed. Returns one row per item, in order (pos). */
const INBOX_BATCH_SQL = `
      WITH item AS (
        SELECT * FROM jsonb_to_recordset($1::jsonb)
          AS i(pos int, consumer text, event_id uuid, attempt int, started_at timestamptz, duration_ms int, worker text)
      ), inserted AS (
        -- Two deliveries of one key in a batch: the first one's attempt is the success.
        INSERT INTO inbox_entry (consumer, event_id, attempt, started_at, duration_ms, worker)
        SELECT DISTINCT ON (consumer, event_id) consumer, event_id, attempt, started_at, duration_ms, worker FROM item ORDER BY consumer, event_id, pos
        ON CONFLICT DO NOTHING
        RETURNING consumer, event_id
      ), outcome AS (
        -- A key inserted by this batch runs once, even if two deliveries of it landed here together.
        SELECT i.pos, i.consumer, i.event_id, i.attempt, i.started_at, i.duration_ms, i.worker,
               (n.consumer IS NOT NULL AND i.pos = min(i.pos) OVER (PARTITION BY i.consumer, i.event_id)) AS fresh
        FROM item i LEFT JOIN inserted n ON n.consumer = i.consumer AND n.event_id = i.event_id
      ), att AS (
        -- Only duplicates get a row of their own (rare: a redelivery); successes are the inbox rows.
        INSERT INTO outbox_delivery_attempt (id, event_id, consumer, attempt, outcome, started_at, duration_ms, error, worker)
        SELECT gen_random_uuid(), o.event_id, o.consumer, o.attempt, 'duplicate'::"DeliveryOutcome", o.started_at, o.duration_ms, NULL, o.worker
        FROM outcome o
        WHERE NOT o.fresh AND o.attempt IS NOT NULL
      ), ${consumedMarkCtes("$2")}, notified AS (SELECT ${consumedNotify} AS notified FROM waiting)
      SELECT o.pos, o.fresh, notified.notified FROM outcome o CROSS JOIN notified ORDER BY o.pos`;

/** What a txFree effect is handed for its transaction: it said it needs none, so any use is a bug. */
const NO_TX = new Proxy({} as Tx, {
  get(_, prop) {
    throw new Error(`a txFree inbox effect used its transaction (${String(prop)}): declare the consumer without txFree`);
  },
});

/** One inbox item alone (its batch's shared transaction failed): a failing effect fails only its own job. */
async function handleInboxItem(db: Db, item: InboxItem): Promise<"handled" | "duplicate"> {
  const outcome = await handleOnce(db, item.consumer, item.eventId, async (tx) => {
    await item.effect(tx);
    if (item.markConsumed) await markConsumed(tx, [item.eventId]);
  }, item.attempt);
  if (outcome === "duplicate" && item.markConsumed) await markConsumed(db, [item.eventId]);
  return outcome;
}

/**
 * handleOnce for many events at a time: what concurrent jobs hand in within a few milliseconds
 * shares ONE transaction (handleInboxBatch) instead of one transaction each; an interactive
 * transaction costs several round trips, which made it the consumers' bottleneck. If the shared
 * transaction fails, each item is retried in a transaction of its own, so one failing effect fails
 * only its own job. Meant for consumers with short effects. When the item is its event's last
 * consumer, the consumed mark joins the same transaction too.
 */
export function createInboxBatcher(db: Db, opts: { maxBatch?: number; maxDelayMs?: number } = {}) {
  const batcher = createMicroBatcher<InboxItem, "handled" | "duplicate">({
    write: (batch) => handleInboxBatch(db, batch),
    retryEach: (item) => handleInboxItem(db, item),
    maxBatch: opts.maxBatch ?? 100,
    maxDelayMs: opts.maxDelayMs ?? 2,
  });
  return {
    run(
      consumer: string,
      eventId: string,
      effect: (tx: Tx) => Promise<void>,
      opts: { markConsumed?: boolean; attempt?: DeliveryAttempt; txFree?: boolean } = {},
    ): Promise<"handled" | "duplicate"> {
      return batcher.add({ consumer, eventId, effect, markConsumed: opts.markConsumed ?? false, attempt: opts.attempt, txFree: opts.txFree });
    },
    flush: batcher.flush,
  };
}

/**
 * Marks events consumed in small batches (one statement for everything finished within a few ms).
 * A job only completes after its event's mark has committed, so a crash can never leave a
 * completed job whose event still blocks its aggregate.
 */
export function createConsumedMarker(db: Db, opts: { maxDelayMs?: number; maxBatch?: number } = {}) {
  const batcher = createMicroBatcher<string, void>({
    write: async (ids) => {
      await markConsumed(db, [...new Set(ids)]);
      return ids.map(() => undefined);
    },
    maxBatch: opts.maxBatch ?? 500,
    maxDelayMs: opts.maxDelayMs ?? 2,
  });
  return { mark: batcher.add, flush: batcher.flush };
}
