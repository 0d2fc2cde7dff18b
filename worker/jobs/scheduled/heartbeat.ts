import type { ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "~/server/platform/logger";
import { QueueName, workerHeartbeatKey } from "~/server/contracts/queues";
import { startScheduledJob } from "./scheduled-job";

/**
 * A heartbeat job every few seconds records the time in Redis. The worker's /healthz and the web's
 * /api/metrics read that key: a stale heartbeat means jobs are not flowing (Redis or the worker loop
 * is stuck). `onBeat` tells this process's own metrics that it ran one.
 */
export async function startHeartbeat(opts: {
  connection: ConnectionOptions;
  prefix: string;
  redis: Redis;
  logger: Logger;
  everyMs?: number;
  onBeat?: (at: Date) => void;
}) {
  const key = workerHeartbeatKey(opts.prefix);
  const job = await startScheduledJob({
    queue: QueueName.heartbeat,
    everyMs: opts.everyMs ?? 5000,
    data: { sentAt: "" },
    connection: opts.connection,
    prefix: opts.prefix,
    logger: opts.logger,
    keep: { completed: 10, failed: 10 },
    run: async () => {
      const at = new Date();
      await opts.redis.set(key, at.toISOString(), "EX", 120);
      opts.onBeat?.(at);
    },
  });
  return { key, close: job.close };
}
