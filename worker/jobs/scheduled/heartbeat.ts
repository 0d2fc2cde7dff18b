import { randomUUID } from "node:crypto";
import os from "node:os";
import type { ConnectionOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import type { RedisClient } from "~/server/platform/redis";
import { QueueName, workerHeartbeatKey } from "~/server/contracts/queues";
import type { Logger } from "~/server/platform/logger";
import { withDeadline } from "~/server/reliability/cache/deadline";
import { createFleetQueues, pruneGone, recordBeat, recordStopped, reapplyDesiredPauses } from "~/server/reliability/fleet";
import { startScheduledJob } from "./scheduled-job";

/** Every this many beats, a worker deletes fleet rows of processes gone for long (cheap, indexed). */
const PRUNE_EVERY_BEATS = 60;
/** Redis commands of one beat give up after this long (Redis away): the next beat tries again. */
const REDIS_DEADLINE_MS = 2000;

/** What this process tells the fleet registry about itself; read on every beat (components grow as they start). */
export interface FleetSelf {
  version: string;
  components: () => string[];
  concurrency: Record<string, number>;
  jobsInFlight: () => number;
}

/**
 * Two beats:
 * - a BullMQ heartbeat job every few seconds records the time in Redis. The worker's /healthz and
 *   the web's /api/metrics read that key: a stale heartbeat means jobs are not flowing (Redis or the
 *   worker loop is stuck). One job per interval for the whole fleet (a job scheduler); `onBeat`
 *   tells this process's own metrics that it ran one.
 * - this process's own fleet beat, a plain timer (it must outlive a Redis wipe): it registers the
 *   process in PostgreSQL (worker_instance: host, pid, version, components, jobs in flight, last
 *   beat) and re-applies the operators' desired queue pauses to Redis (see fleet/queue-control.ts).
 */
export async function startHeartbeat(opts: {
  connection: ConnectionOptions;
  prefix: string;
  redis: RedisClient;
  db: Db;
  logger: Logger;
  fleet: FleetSelf;
  everyMs?: number;
  onBeat?: (at: Date) => void;
}) {
  const everyMs = opts.everyMs ?? 5000;
  const key = workerHeartbeatKey(opts.prefix);
  const job = await startScheduledJob({
    queue: QueueName.heartbeat,
    everyMs,
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

  const instanceId = randomUUID();
  const startedAt = new Date();
  const queues = createFleetQueues(opts.connection, opts.prefix);
  let beats = 0;
  let beating: Promise<void> | null = null;
  let lastError: string | null = null;
  const beat = async () => {
    beats++;
    await recordBeat(opts.db, {
      id: instanceId,
      host: os.hostname(),
      pid: process.pid,
      version: opts.fleet.version,
      startedAt,
      components: opts.fleet.components(),
      concurrency: opts.fleet.concurrency,
      jobsInFlight: opts.fleet.jobsInFlight(),
      heartbeatEveryMs: everyMs,
    });
    const changed = await withDeadline(reapplyDesiredPauses(opts.db, queues), REDIS_DEADLINE_MS);
    for (const c of changed) opts.logger.warn(c, "queue pause state in Redis differed from the operator's (Redis restarted empty or was changed by hand); re-applied");
    if (beats % PRUNE_EVERY_BEATS === 1) await pruneGone(opts.db);
  };
  const tick = () => {
    if (beating) return; // one beat at a time: a slow PostgreSQL or Redis skips beats, it does not pile them up
    beating = beat()
      .then(() => {
        lastError = null;
      })
      .catch((err: Error) => {
        // Logged once per distinct cause, not every few seconds of an outage.
        if (err.message !== lastError) opts.logger.warn({ err: err.message }, "fleet beat failed; retrying on the next beat");
        lastError = err.message;
      })
      .finally(() => {
        beating = null;
      });
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();

  return {
    key,
    instanceId,
    /** Resolves after the beat in progress, if any (tests wait for the first registration). */
    settled: () => beating ?? Promise.resolve(),
    async close() {
      clearInterval(timer);
      await beating;
      await recordStopped(opts.db, instanceId).catch(() => {});
      await queues.close();
      await job.close();
    },
  };
}
