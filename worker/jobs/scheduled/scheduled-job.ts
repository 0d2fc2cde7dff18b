import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Logger } from "~/server/platform/logger";
import { jobSchemas, queueKeyPrefix, type JobPayload, type QueueName } from "~/server/contracts/queues";

/**
 * A periodic job as a BullMQ job scheduler on its own queue. One scheduler id per queue: however
 * many worker processes run, BullMQ enqueues one job per interval; concurrency 1 means one run at
 * a time. The job's data is validated with the queue's zod schema before `run` sees it. Every
 * periodic job of MetaStore (heartbeat, clean-ups, sweeps) is one of these, so they behave alike.
 */
export async function startScheduledJob<Q extends QueueName>(opts: {
  queue: Q;
  everyMs: number;
  data: JobPayload<Q>;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  run: (data: JobPayload<Q>) => Promise<unknown>;
  /** How many finished jobs to keep for inspection. */
  keep?: { completed: number; failed: number };
  /** How often to check that the scheduler still exists in Redis (default: everyMs, at most 30 s). */
  recheckEveryMs?: number;
}) {
  const keep = opts.keep ?? { completed: 20, failed: 50 };
  const queue = new Queue(opts.queue, { connection: opts.connection, prefix: queueKeyPrefix(opts.prefix, opts.queue) });
  queue.on("error", (err) => opts.logger.warn({ err: err.message, queue: opts.queue }, "scheduled job queue error"));
  const register = () =>
    queue.upsertJobScheduler(
      opts.queue,
      { every: opts.everyMs },
      // BullMQ's job-data type is open; the zod parse below is what holds the payload to its schema.
      { name: opts.queue, data: opts.data as object, opts: { removeOnComplete: keep.completed, removeOnFail: keep.failed } },
    );
  await register();
  // The scheduler lives only in Redis: a Redis restarted empty (or FLUSHALL) forgets it and the job
  // never runs again, though the worker is healthy. A plain timer (not a BullMQ job, which would be
  // forgotten with it) looks for it and registers it again. Only when missing: upserting an existing
  // scheduler would move its next run.
  let rechecking: Promise<void> | null = null;
  const recheck = setInterval(() => {
    if (rechecking) return;
    rechecking = (async () => {
      if (await queue.getJobScheduler(opts.queue)) return;
      await register();
      opts.logger.warn({ queue: opts.queue }, "job scheduler was missing from Redis (restarted empty or flushed); registered it again");
    })()
      .catch(() => {}) // Redis away: the next check tries again (the queue's error listener logs it)
      .finally(() => {
        rechecking = null;
      });
  }, opts.recheckEveryMs ?? Math.min(opts.everyMs, 30_000));
  recheck.unref();
  const worker = new Worker(opts.queue, async (job) => opts.run(jobSchemas[opts.queue].parse(job.data) as JobPayload<Q>), {
    connection: opts.connection,
    prefix: queueKeyPrefix(opts.prefix, opts.queue),
    concurrency: 1,
  });
  worker.on("failed", (job, err) => opts.logger.warn({ err: err.message, jobId: job?.id, queue: opts.queue }, "scheduled job failed"));
  worker.on("error", (err) => opts.logger.warn({ err: err.message, queue: opts.queue }, "scheduled job worker error"));
  return {
    queue,
    worker,
    async close() {
      clearInterval(recheck);
      await rechecking;
      await worker.close();
      await queue.close();
    },
  };
}
