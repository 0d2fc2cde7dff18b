/**
 * The child processes of `npm run bench:outbox` (one role per process, like a worker would run):
 *   ROLE=poller   (a) the original design's baseline: every 5 s, claim one batch, addBulk, mark
 *   ROLE=bare     (b) the floor: the same claim SQL on a plain pg pool + addBulk in a tight loop
 *   ROLE=relay    (c) MetaStore's relay (startOutboxRelay: NOTIFY + poll, leases, backoff)
 *   ROLE=consumer MetaStore's consumer worker (inbox + consumed marking) with a no-op handler
 *   ROLE=noop     reference: a bare BullMQ worker with a no-op processor (no database)
 * Writes "READY" on stdout when started; stops on SIGTERM.
 */
import { Queue } from "bullmq";
import pg from "pg";
import { pino } from "pino";
import { createDb } from "~/server/platform/db/client";
import { CLAIM_DUE_SQL } from "~/server/reliability/outbox/relay-store";
import { QueueName } from "~/server/contracts/queues";
import { bullmqConnection } from "~/server/platform/redis";
import { startOutboxRelay } from "../worker/jobs/outbox-relay";
import { installPgCounter, installRedisCounter } from "./counts";
import { startBenchConsumers } from "./support/outbox-worker";

// What this role costs: reported on stdout as "COUNTS {json}" when it stops.
const pgCounter = installPgCounter();
const redisCounter = installRedisCounter();

const role = process.env.ROLE as "poller" | "bare" | "relay" | "consumer";
const databaseUrl = process.env.DATABASE_URL!;
const connection = bullmqConnection(process.env.REDIS_URL!);
const prefix = process.env.PREFIX!;
const batchSize = Number(process.env.BATCH_SIZE ?? 500);
const logger = pino({ level: "warn" });

const MARK_SQL = `UPDATE outbox_event SET status = 'published', published_at = now(), lease_until = NULL, claimed_by = NULL
  WHERE id = ANY($1::uuid[]) AND status = 'publishing' AND claimed_by = $2`;

type Row = { id: string; aggregate_type: string; aggregate_id: string; aggregate_seq: number; event_type: string; payload: unknown; headers: unknown; created_at: Date };

async function plainLoop(opts: { intervalMs: number; tight: boolean }) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const queue = new Queue(QueueName.outboxEvents, { connection, prefix });
  const relayId = `${role}-${process.pid}`;
  let stopped = false;
  /** One claim → addBulk → mark; returns how many it moved. */
  const once = async () => {
    const { rows } = await pool.query<Row>(CLAIM_DUE_SQL, [batchSize, relayId, 30_000]);
    if (rows.length === 0) return 0;
    await queue.addBulk(
      rows.map((r) => ({
        name: r.event_type,
        data: { id: r.id, type: r.event_type, aggregateType: r.aggregate_type, aggregateId: r.aggregate_id, aggregateSeq: r.aggregate_seq, payload: r.payload, headers: r.headers, createdAt: r.created_at.toISOString() },
        opts: { jobId: r.id, removeOnComplete: { age: 3600, count: 50_000 }, removeOnFail: true, attempts: 5 },
      })),
    );
    await pool.query(MARK_SQL, [rows.map((r) => r.id), relayId]);
    return rows.length;
  };
  const loop = (async () => {
    while (!stopped) {
      // The floor drains as fast as it can; the baseline poller takes one batch per interval.
      const moved = await once();
      if (!opts.tight || moved === 0) await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
  })();
  return async () => {
    stopped = true;
    await loop.catch(() => {});
    await queue.close();
    await pool.end();
  };
}

let stop: () => Promise<void>;
if ((role as string) === "noop") {
  // Reference only: BullMQ's own ceiling on this machine (no database at all).
  const { Worker } = await import("bullmq");
  const worker = new Worker(QueueName.outboxEvents, async () => {}, { connection, prefix, concurrency: Number(process.env.CONCURRENCY ?? 256) });
  await worker.waitUntilReady();
  stop = () => worker.close();
} else if (role === "poller") stop = await plainLoop({ intervalMs: 5000, tight: false });
else if (role === "bare") stop = await plainLoop({ intervalMs: 2, tight: true });
else if (role === "relay") {
  const db = createDb(databaseUrl, { max: 4 });
  const relay = await startOutboxRelay({ db, databaseUrl, connection, prefix, logger, options: { pollIntervalMs: 5000, batchSize, leaseMs: 30_000 } });
  stop = async () => {
    await relay.close();
    await db.$disconnect();
  };
} else {
  const db = createDb(databaseUrl, { max: 20 });
  // INBOX_MAX_BATCH / INBOX_DELAY_MS: the inbox micro-batch's size and linger (defaults: the worker's).
  const inboxMaxBatch = process.env.INBOX_MAX_BATCH ? Number(process.env.INBOX_MAX_BATCH) : undefined;
  const inboxMaxDelayMs = process.env.INBOX_DELAY_MS ? Number(process.env.INBOX_DELAY_MS) : undefined;
  const consumers = await startBenchConsumers({ db, connection, prefix, logger, concurrency: Number(process.env.CONCURRENCY ?? 256), inboxMaxBatch, inboxMaxDelayMs });
  stop = async () => {
    await consumers.close();
    await db.$disconnect();
  };
}
process.stdout.write("READY\n");
process.on("SIGTERM", () => {
  void stop().finally(() => {
    process.stdout.write(`COUNTS ${JSON.stringify({ pg: pgCounter.snapshot(), redis: redisCounter.snapshot() })}\n`, () => process.exit(0));
  });
});
