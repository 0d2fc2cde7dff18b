import type { Db } from "../../db/client";
import { inTransaction, type Tx } from "../../db/transaction";
import { describeError } from "./relay-store";

/**
 * The consumer side of the outbox: the inbox (one row per consumer and event) makes each handler's
 * effect happen once even when BullMQ delivers a job twice, because the inbox row and the effect
 * commit in one transaction.
 */
export async function handleOnce(db: Db, consumer: string, eventId: string, effect: (tx: Tx) => Promise<void>): Promise<"handled" | "duplicate"> {
  return inTransaction(db, async (tx) => {
    const inserted = await tx.$executeRaw`
      INSERT INTO inbox_entry (consumer, event_id) VALUES (${consumer}, ${eventId}::uuid) ON CONFLICT DO NOTHING`;
    // Someone (an earlier delivery) already committed this consumer's effect for this event.
    if (inserted === 0) return "duplicate";
    await effect(tx);
    return "handled";
  });
}

/**
 * Every consumer has handled these events: the next event of each aggregate may now be published.
 * The NOTIFY (sent at commit) wakes the relays so they do not wait for their next poll.
 */
export async function markConsumed(db: Db, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db.$queryRaw<Array<{ n: bigint }>>`
    WITH done AS (
      UPDATE outbox_event SET consumed_at = now()
      WHERE id = ANY(${ids}::uuid[]) AND consumed_at IS NULL
      RETURNING 1
    ), counted AS (SELECT count(*) AS n FROM done)
    SELECT n, CASE WHEN n > 0 THEN (SELECT 1 FROM pg_notify('outbox_event', 'consumed')) END AS notified FROM counted`;
  return Number(rows[0]?.n ?? 0);
}

/**
 * A consumer failed on an event. Until its retries run out the error is only recorded (the
 * dashboard shows it); after the last one the event is `dead` and blocks its aggregate until an
 * operator retries or discards it.
 */
export async function recordConsumerFailure(db: Db, eventId: string, consumer: string, error: unknown, final: boolean): Promise<void> {
  const { message, stack } = describeError(error);
  const text = `consumer ${consumer}: ${message}`;
  if (final) {
    await db.$executeRaw`
      UPDATE outbox_event
      SET status = 'dead', last_error = ${text}, last_error_stack = ${stack}, last_failed_at = now(),
          lease_until = NULL, claimed_by = NULL
      WHERE id = ${eventId}::uuid AND consumed_at IS NULL`;
  } else {
    await db.$executeRaw`
      UPDATE outbox_event SET last_error = ${text}, last_error_stack = ${stack}, last_failed_at = now()
      WHERE id = ${eventId}::uuid AND consumed_at IS NULL`;
  }
}
