import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import { jobSchemas, QueueName } from "~/server/queue/queues";
import type { Logger } from "~/server/logger";

export const HEARTBEAT_KEY = "worker:heartbeat";

/**
 * A job scheduler enqueues a heartbeat every few seconds; processing it records the time in Redis.
 * The worker's /healthz and the dashboard read that key: a stale heartbeat means jobs are not flowing.
 */
export async function startHeartbeat(opts: { connection: ConnectionOptions; prefix: string; redis: Redis; logger: Logger; everyMs?: number }) {
  const queue = new Queue(QueueName.heartbeat, { connection: opts.connection, prefix: opts.prefix });
  await queue.upsertJobScheduler("heartbeat", { every: opts.everyMs ?? 5000 }, { name: "beat", data: { sentAt: "" }, opts: { removeOnComplete: 10, removeOnFail: 10 } });
  const key = `${opts.prefix}:${HEARTBEAT_KEY}`;
  const worker = new Worker(
    QueueName.heartbeat,
    async (job) => {
      jobSchemas.heartbeat.parse(job.data);
      await opts.redis.set(key, new Date().toISOString(), "EX", 120);
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: 1 },
  );
  worker.on("failed", (job, err) => opts.logger.warn({ err, jobId: job?.id }, "heartbeat job failed"));
  return {
    key,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
