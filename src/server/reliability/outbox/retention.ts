import type { Db } from "../../platform/db/client";

/**
 * Retention: delete old published-and-consumed events and old inbox rows in bounded batches. Each
 * batch is its own short statement (its own transaction), so no lock is held for long and the relay
 * and consumers keep running alongside. Unconsumed, failed and dead events are never deleted.
 *
 * An inbox row is what makes a redelivered event a no-op for its consumer: it may only go once its
 * event can never be delivered again — the event is gone (retention), consumed by everyone, or
 * discarded. A failed or dead event can still be retried by an operator, however old its rows.
 */
export async function deleteExpiredOutboxRows(
  db: Db,
  opts: { olderThan: Date; batchSize: number; maxBatches?: number },
): Promise<{ events: number; inbox: number }> {
  const maxBatches = opts.maxBatches ?? 1000;
  let events = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await db.$executeRaw`
      DELETE FROM outbox_event WHERE id IN (
        SELECT id FROM outbox_event
        WHERE status = 'published' AND published_at < ${opts.olderThan} AND consumed_at IS NOT NULL
        ORDER BY published_at
        LIMIT ${opts.batchSize})`;
    events += n;
    if (n < opts.batchSize) break;
  }
  let inbox = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await db.$executeRaw`
      DELETE FROM inbox_entry WHERE (consumer, event_id) IN (
        SELECT i.consumer, i.event_id FROM inbox_entry i
        WHERE i.processed_at < ${opts.olderThan}
          AND NOT EXISTS (
            SELECT 1 FROM outbox_event e
            WHERE e.id = i.event_id
              AND (e.status IN ('pending', 'publishing', 'failed', 'dead') OR (e.status = 'published' AND e.consumed_at IS NULL)))
        ORDER BY i.processed_at
        LIMIT ${opts.batchSize})`;
    inbox += n;
    if (n < opts.batchSize) break;
  }
  return { events, inbox };
}
