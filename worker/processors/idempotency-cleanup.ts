import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Db } from "~/server/db/client";
import { deleteExpiredIdempotencyKeys } from "~/server/domain/idempotency/cleanup";
import type { Logger } from "~/server/logger";
import { jobSchemas, QueueName } from "~/server/queue/queues";

/**
 * A job scheduler deletes expired Idempotency-Key records every few minutes, in batches (see
 * deleteExpiredIdempotencyKeys). One scheduler id per queue: however many workers run, BullMQ
 * enqueues one job per interval, and running it twice is harmless (it deletes what has expired).
 */
export async function startIdempotencyCleanup(opts: {
  connection: ConnectionOptions;
  prefix: string;
  db: Db;
  logger: Logger;
  everyMs: number;
  batchSize?: number;
}) {
  const queue = new Queue(QueueName.idempotencyCleanup, { connection: opts.connection, prefix: opts.prefix });
  await queue.upsertJobScheduler(
    "idempotency-cleanup",
    { every: opts.everyMs },
    { name: "delete-expired", data: { batchSize: opts.batchSize ?? 1000 }, opts: { removeOnComplete: 20, removeOnFail: 50 } },
  );
  const worker = new Worker(
    QueueName.idempotencyCleanup,
    async (job) => {
      const { batchSize } = jobSchemas["idempotency-cleanup"].parse(job.data);
      const result = await deleteExpiredIdempotencyKeys(opts.db, { batchSize });
      if (result.deleted > 0) opts.logger.info(result, "expired idempotency records deleted");
      return result;
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: 1 },
  );
  worker.on("failed", (job, err) => opts.logger.warn({ err, jobId: job?.id }, "idempotency clean-up job failed"));
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
