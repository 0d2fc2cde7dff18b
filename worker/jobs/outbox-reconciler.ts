import { Queue, type ConnectionOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import {
  findStalledEvents,
  requeueStalledEvents,
  type InFlightCursor,
  type ReconcileReason,
} from "~/server/reliability/outbox/reconcile-store";
import type { Logger } from "~/server/platform/logger";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";

export interface OutboxReconcilerOptions {
  /** An in-flight event is looked at once it was published this long ago (OUTBOX_STALLED_AFTER_MS). */
  stalledAfterMs: number;
  /** Time between rounds (OUTBOX_RECONCILE_EVERY_MS). */
  everyMs: number;
  /** Events looked at per round; the next round goes on where this one stopped. */
  batchSize?: number;
}

/** Job states in which the job will still run (or is running): its event is not stalled, only slow. */
const LIVE_STATES = new Set(["waiting", "delayed", "active", "prioritized", "waiting-children"]);

/**
 * The outbox reconciler: every `everyMs`, find events published longer than `stalledAfterMs` ago and
 * still unconsumed, ask BullMQ about each one's job (job id = event id), and send again, through the
 * relay, those whose job is gone or ended without consuming the event. It is a plain timer in every
 * worker process, NOT a BullMQ job: it must keep running when Redis has lost everything, including
 * BullMQ's own schedulers. Several reconcilers may run at once (the store's guards make a second
 * hand-back a no-op).
 */
export async function startOutboxReconciler(deps: {
  db: Db;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  options: OutboxReconcilerOptions;
}) {
  const { db, options } = deps;
  const log = deps.logger.child({ component: "outbox-reconciler" });
  const batchSize = options.batchSize ?? 500;
  // Fail fast while Redis is away: a round that cannot ask Redis does nothing and tries next time.
  const queue = new Queue(QueueName.outboxEvents, {
    connection: { ...deps.connection, enableOfflineQueue: false, maxRetriesPerRequest: 1 } as ConnectionOptions,
    prefix: queueKeyPrefix(deps.prefix, QueueName.outboxEvents),
  });
  let lastQueueError = 0;
  queue.on("error", (err) => {
    if (Date.now() - lastQueueError > 10_000) log.warn({ err: err.message }, "reconciler queue connection error");
    lastQueueError = Date.now();
  });

  const stats = { rounds: 0, checked: 0, requeued: 0, byReason: { job_missing: 0, job_failed: 0, job_completed: 0 } as Record<ReconcileReason, number> };
  let cursor: InFlightCursor = null;

  /** What to do about one stalled event, from its job's state; removes a finished job so the id can be queued again. */
  async function verdict(id: string): Promise<ReconcileReason | null> {
    const state = await queue.getJobState(id);
    if (LIVE_STATES.has(state)) return null;
    if (state === "unknown") return "job_missing";
    // Finished without consuming: a job kept under this id would make the relay's re-publish a
    // no-op (BullMQ ignores an add with an existing job id), so it goes first.
    await queue.remove(id);
    return state === "failed" ? "job_failed" : "job_completed";
  }

  /** One round; returns what it sent again. Exposed so tests can run a round without waiting. */
  async function round(): Promise<Array<{ id: string; reason: ReconcileReason }>> {
    const events = await findStalledEvents(db, { stalledAfterMs: options.stalledAfterMs, limit: batchSize, after: cursor });
    // A short page means the end of the in-flight set: the next round starts from the oldest again.
    const last = events.at(-1);
    cursor = events.length < batchSize || !last ? null : { publishedAt: last.publishedAt, id: last.id };
    if (events.length === 0) return [];
    // Concurrent calls share the connection's pipeline: one round trip's worth of latency, not N.
    const verdicts = await Promise.all(events.map(async (e) => ({ id: e.id, reason: await verdict(e.id) })));
    const toRequeue = verdicts.filter((v): v is { id: string; reason: ReconcileReason } => v.reason !== null);
    const requeued = await requeueStalledEvents(db, toRequeue, { stalledAfterMs: options.stalledAfterMs });
    stats.checked += events.length;
    stats.requeued += requeued.length;
    for (const r of requeued) stats.byReason[r.reason]++;
    if (requeued.length > 0) {
      const byReason: Partial<Record<ReconcileReason, number>> = {};
      for (const r of requeued) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
      log.warn(
        { checked: events.length, requeued: requeued.length, byReason, sample: requeued.slice(0, 5).map((r) => r.id) },
        "outbox reconciler sent stalled events again (their BullMQ jobs were lost or ended without consuming them)",
      );
    }
    return requeued;
  }

  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let lastRoundError = 0;
  const tick = () => {
    timer = null;
    if (stopping) return;
    running = round()
      .then(() => void stats.rounds++)
      .catch((err: Error) => {
        // Redis or PostgreSQL away: nothing is lost by skipping a round. Logged now and then.
        if (Date.now() - lastRoundError > 30_000) log.warn({ err: err.message }, "outbox reconcile round failed; trying again next round");
        lastRoundError = Date.now();
      })
      .finally(() => {
        running = null;
        if (!stopping) timer = setTimeout(tick, options.everyMs);
      });
  };
  timer = setTimeout(tick, options.everyMs);
  log.info({ stalledAfterMs: options.stalledAfterMs, everyMs: options.everyMs }, "outbox reconciler started");

  return {
    stats,
    round,
    async close() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
      await queue.close();
    },
  };
}

export type OutboxReconciler = Awaited<ReturnType<typeof startOutboxReconciler>>;
