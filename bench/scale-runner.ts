/**
 * One worker process of `npm run bench:scale`: the outbox part of a MetaStore worker (the relay and
 * the consumer worker, as worker/index.ts starts them) with a no-op batchable consumer, so the
 * outbox machinery is what is measured. It records every job it publishes (the relay's addBulk
 * calls) and every event its consumer handles; on SIGTERM it writes both lists to OUT_FILE, so the
 * bench can count duplicate publications and deliveries across processes.
 */
import { writeFileSync } from "node:fs";
import { Queue } from "bullmq";
import { pino } from "pino";
import { createDb } from "~/server/platform/db/client";
import { bullmqConnection } from "~/server/platform/redis";
import { startOutboxRelay } from "../worker/jobs/outbox-relay";
import { startBenchConsumers } from "./support/outbox-worker";

const published: string[] = [];
const handled: string[] = [];
// Every publication goes through Queue.addBulk (job id = event id); BullMQ would hide a second one.
const proto = Queue.prototype as unknown as { addBulk: (jobs: Array<{ opts?: { jobId?: string } }>) => Promise<unknown> };
const addBulk = proto.addBulk;
proto.addBulk = function (this: Queue, jobs) {
  const result = addBulk.call(this, jobs);
  return Promise.resolve(result).then((r) => {
    for (const j of jobs) if (j.opts?.jobId) published.push(j.opts.jobId);
    return r;
  });
};

const databaseUrl = process.env.DATABASE_URL!;
const connection = bullmqConnection(process.env.REDIS_URL!);
const prefix = process.env.PREFIX!;
const logger = pino({ level: "warn" });
const db = createDb(databaseUrl);
const relay = await startOutboxRelay({ db, databaseUrl, connection, prefix, logger, options: { pollIntervalMs: 1000, batchSize: 500, leaseMs: 30_000 } });
const consumers = await startBenchConsumers({ db, connection, prefix, logger, concurrency: 32, onEvent: (id) => handled.push(id) });
process.stdout.write("READY\n");
process.on("SIGTERM", () => {
  void (async () => {
    await relay.close();
    await consumers.close();
    await db.$disconnect();
    writeFileSync(process.env.OUT_FILE!, JSON.stringify({ published, handled }));
    process.exit(0);
  })();
});
