import { Queue, type ConnectionOptions, type JobsOptions, type JobType } from "bullmq";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import type { Logger } from "~/server/platform/logger";

/**
 * On a Redis Cluster every queue once shared the app's hash tag (`{metastore}:<queue>:…`); now each
 * queue has its own (`{metastore:<queue>}:<queue>:…`, queueKeyPrefix). Jobs queued by the old
 * version under the old keys would sit there unseen after an upgrade. At start the worker moves
 * every job that is waiting, delayed or prioritized under the old keys to the same queue under the
 * new ones (same id, name, data and options; a delay keeps its due time), removing it from the old
 * keys once the new one holds it; then deletes the old queue's keys. Jobs a job scheduler produced
 * are dropped, not moved: the worker sets its schedulers up again under the new keys.
 *
 * Safe to run in every worker at once and again after a crash: a job id is added once per queue
 * (a second add of a live id is a no-op) and every consumer is idempotent (inbox, saga leases),
 * so a job moved twice is handled once. Jobs ACTIVE under the old keys belong to a worker of the
 * old version still running: they are left (with that queue's keys) for the next start.
 * One Redis (a plain prefix) never had another layout: nothing to do.
 */

// BullMQ 6 keeps the jobs of a paused queue in its wait list.
const MOVABLE: JobType[] = ["waiting", "prioritized", "delayed"];
const PAGE = 500;

export interface LegacyQueueMove {
  queue: QueueName;
  moved: number;
  /** Jobs an old-version worker still runs: left under the old keys. */
  active: number;
  /** The old keys were deleted (nothing active was left). */
  cleared: boolean;
}

/** The options a job was added with, its delay now counted from now (its due time kept). */
function optionsToKeep(opts: JobsOptions, delayMs: number): JobsOptions {
  const { delay: _delay, timestamp: _ts, jobId: _id, ...rest } = opts;
  return { ...rest, ...(delayMs > 0 ? { delay: delayMs } : {}) };
}

/** A job a job scheduler produced: the worker sets the schedulers up again under the new keys. */
const fromScheduler = (job: { id?: string; opts: JobsOptions }) => Boolean(job.opts.repeatJobKey) || job.id?.startsWith("repeat:");

export async function moveLegacyQueueJobs(opts: { connection: ConnectionOptions; prefix: string; logger?: Logger }): Promise<LegacyQueueMove[]> {
  // Only a hash-tagged prefix (a cluster) changed layout.
  if (!/^\{[^}]+\}$/.test(opts.prefix)) return [];
  const results: LegacyQueueMove[] = [];
  for (const name of Object.values(QueueName)) {
    const current = new Queue(name, { connection: opts.connection, prefix: queueKeyPrefix(opts.prefix, name) });
    // Every queue the old version opened has its meta hash under the old keys; none (the usual
    // start, and every start after the move): nothing to do. Checked before a Queue is made on the
    // old keys, which would write that hash itself.
    const client = await current.getBackend().client;
    if ((await client.runCommand("exists", [`${opts.prefix}:${name}:meta`])) === 0) {
      await current.close();
      continue;
    }
    const legacy = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    try {
      // The old schedulers go first (with each one's next job): the worker sets them up again under
      // the new keys, and a scheduler's job cannot be removed on its own.
      for (const scheduler of await legacy.getJobSchedulers()) if (scheduler.key) await legacy.removeJobScheduler(scheduler.key);
      let moved = 0;
      let skipped = 0;
      for (;;) {
        const jobs = await legacy.getJobs(MOVABLE, skipped, skipped + PAGE - 1, true);
        if (jobs.length === 0) break;
        for (const job of jobs) {
          if (fromScheduler(job)) {
            skipped += 1; // a scheduler's left-over iteration: deleted with the old keys below
            continue;
          }
          const dueAt = job.timestamp + (job.delay ?? 0);
          await current.add(job.name, job.data, { ...optionsToKeep(job.opts, dueAt - Date.now()), jobId: job.id! });
          await job.remove();
          moved += 1;
        }
      }
      const active = await legacy.getActiveCount();
      // Completed and failed jobs, the events stream, job schedulers: nothing anyone reads any more.
      if (active === 0) await legacy.obliterate({ force: true });
      const result = { queue: name, moved, active, cleared: active === 0 };
      results.push(result);
      opts.logger?.warn(result, active === 0
        ? "moved the jobs queued under the old shared hash tag to this queue's own keys, and deleted the old keys"
        : "moved the queued jobs under the old shared hash tag; a worker of the old version still runs some, so the old keys stay until the next start");
    } finally {
      await legacy.close();
      await current.close();
    }
  }
  return results;
}
