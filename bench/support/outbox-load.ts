/**
 * The outbox benches' shared load (bench/outbox.ts, bench/scale.ts): events committed one by one at a
 * fixed offered rate, through appendEvent's statement on a plain pg pool, each with its commit time.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";

/** appendEvent's statement (reliability/outbox/append-event.ts): per-aggregate sequence + event row. */
export const APPEND_SQL = `
  WITH seq AS (
    INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq) VALUES ('file', $2, 1)
    ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_seq = outbox_aggregate.last_seq + 1
    RETURNING last_seq)
  INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, headers, max_attempts)
  SELECT $1::uuid, 'file', $2, seq.last_seq, 'file.tagged', $3::jsonb, '{}'::jsonb, 5 FROM seq`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Commits `rate` file.tagged events a second for `seconds`, each its own autocommitted statement
 * (the relay and consumers are what is measured: a Prisma interactive transaction per event would
 * make the writer the limit on a 2-core machine). 24 connections: each commit waits for its WAL
 * flush, so the offered rate needs many in flight. `aggregateOf(i)` names the i-th event's file.
 * Returns each event's commit time (when its commit returned) and the rate actually offered.
 */
export async function offerEvents(opts: { databaseUrl: string; rate: number; seconds: number; aggregateOf: (i: number) => string }) {
  const writer = new pg.Pool({ connectionString: opts.databaseUrl, max: 24 });
  const committedAt = new Map<string, number>();
  const start = Date.now();
  let issued = 0;
  let inFlight = 0;
  const writes: Promise<void>[] = [];
  while (Date.now() - start < opts.seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * opts.rate);
    while (issued < due && inFlight < 200) {
      const fileId = opts.aggregateOf(issued);
      issued++;
      inFlight++;
      const id = randomUUID();
      writes.push(
        writer.query(APPEND_SQL, [id, fileId, JSON.stringify({ fileId, ownerId: fileId, tags: [] })]).then(() => {
          committedAt.set(id, Date.now());
          inFlight--;
        }),
      );
    }
    await sleep(2);
  }
  await Promise.all(writes);
  await writer.end();
  return { committedAt, offered: (committedAt.size / (Date.now() - start)) * 1000 };
}

/** Polls `probe` until it holds; throws after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
