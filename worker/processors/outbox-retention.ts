import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Db } from "~/server/db/client";
import { deleteExpiredOutboxRows } from "~/server/domain/outbox/retention";
import type { Logger } from "~/server/logger";
import { QueueName } from "~/server/queue/queues";

/**
 * Outbox retention as a BullMQ job scheduler: every `everyMs`, delete published-and-consumed events
 * and inbox rows older than `retentionMs`, in batches of `batchSize` (short statements, no long locks).
 */
export async function startOutboxRetention(deps: {
  db: Db;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  options: { retentionMs: number; everyMs: number; batchSize: number };
}) {
  const logger = deps.logger.child({ component: "outbox-retention" });
  const queue = new Queue(QueueName.outboxRetention, { connection: deps.connection, prefix: deps.prefix });
  await queue.upsertJobScheduler(
    "outbox-retention",
    { every: deps.options.everyMs },
    { name: "sweep", data: {}, opts: { removeOnComplete: 20, removeOnFail: 50 } },
  );
  const worker = new Worker(
    QueueName.outboxRetention,
    async () => {
      const olderThan = new Date(Date.now() - deps.options.retentionMs);
      const deleted = await deleteExpiredOutboxRows(deps.db, { olderThan, batchSize: deps.options.batchSize });
      if (deleted.events || deleted.inbox) logger.info({ ...deleted, olderThan }, "outbox retention removed old rows");
      return deleted;
    },
    // One sweep at a time, whatever the number of workers: the batches then never contend.
    { connection: deps.connection, prefix: deps.prefix, concurrency: 1 },
  );
  worker.on("failed", (_job, err) => logger.warn({ err: err.message }, "outbox retention sweep failed"));
  worker.on("error", (err) => logger.warn({ err: err.message }, "outbox retention worker error"));
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
