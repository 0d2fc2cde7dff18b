import type { ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "~/server/platform/logger";
import { QueueName } from "~/server/contracts/queues";
import { startScheduledJob } from "./scheduled-job";

export const HEARTBEAT_KEY = "worker:heartbeat";

/**
 * A heartbeat job every few seconds records the time in Redis. The worker's /healthz reads that
 * key: a stale heartbeat means jobs are not flowing (Redis or the worker loop is stuck).
 */
export async function startHeartbeat(opts: { connection: ConnectionOptions; prefix: string; redis: Redis; logger: Logger; everyMs?: number }) {
  const key = `${opts.prefix}:${HEARTBEAT_KEY}`;
  const job = await startScheduledJob({
    queue: QueueName.heartbeat,
    everyMs: opts.everyMs ?? 5000,
    data: { sentAt: "" },
    connection: opts.connection,
    prefix: opts.prefix,
    logger: opts.logger,
    keep: { completed: 10, failed: 10 },
    run: async () => opts.redis.set(key, new Date().toISOString(), "EX", 120),
  });
  return { key, close: job.close };
}
