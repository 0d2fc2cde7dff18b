import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import type { Tx } from "~/server/platform/db/transaction";
import { createInboxBatcher, handleOnce, markConsumed, recordConsumerFailure } from "~/server/reliability/outbox/consumption";
import { recordStalledOut } from "~/server/reliability/outbox/reconcile-store";
import { deliveredEventSchema } from "~/server/contracts/events";
import type { Logger } from "~/server/platform/logger";
import { QueueName } from "~/server/contracts/queues";
import type { BlobStorage } from "~/server/platform/storage/blob-storage";
import { defaultConsumers, type EventConsumer } from "./consumer-registry";
import type { WorkerMetrics } from "../metrics";

/**
 * Marks events consumed in small batches (one UPDATE for everything finished within a few ms).
 * A job only completes after its event's mark has committed, so a crash can never leave a
 * completed job whose event still blocks its aggregate.
 */
export function createConsumedMarker(db: Db, opts: { maxDelayMs?: number; maxBatch?: number } = {}) {
  const maxDelayMs = opts.maxDelayMs ?? 2;
  const maxBatch = opts.maxBatch ?? 500;
  let pending: Array<{ id: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  let timer: NodeJS.Timeout | null = null;

  const flush = async () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      await markConsumed(db, [...new Set(batch.map((b) => b.id))]);
      for (const b of batch) b.resolve();
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  };

  return {
    mark(id: string): Promise<void> {
      return new Promise((resolve, reject) => {
        pending.push({ id, resolve, reject });
        if (pending.length >= maxBatch) void flush();
        else timer ??= setTimeout(() => void flush(), maxDelayMs);
      });
    },
    flush,
  };
}

export interface ConsumerDeps {
  db: Db;
  storage: BlobStorage;
  logger: Logger;
  consumers: readonly EventConsumer[];
  markConsumed(id: string): Promise<void>;
  /** How batchable consumers run their inbox + effect (default: a transaction per event). */
  handleBatched?(consumer: string, eventId: string, effect: (tx: Tx) => Promise<void>, opts?: { markConsumed?: boolean }): Promise<"handled" | "duplicate">;
  /** Per-consumer durations and the end-to-end lag, for the worker's /metrics. */
  metrics?: Pick<WorkerMetrics, "consumerRan" | "consumed">;
}

/** The job shape the dispatcher needs (a BullMQ Job, or a plain object in tests). */
export type OutboxJob = Pick<Job, "data" | "attemptsMade" | "id"> & { opts: { attempts?: number } };

/**
 * Handle one delivered event: every consumer registered for its type, each exactly once (inbox),
 * then mark the event consumed so the next event of its aggregate may go out.
 */
export async function processOutboxJob(deps: ConsumerDeps, job: OutboxJob): Promise<{ handled: string[]; duplicates: string[] }> {
  const parsed = deliveredEventSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`job ${job.id} is not an outbox event: ${parsed.error.message}`);
  const event = parsed.data;
  const handled: string[] = [];
  const duplicates: string[] = [];
  let current = "dispatcher";
  let consumerStarted = 0;
  try {
    const applicable = deps.consumers.filter((c) => c.handles.includes(event.type));
    let consumedMarked = false;
    for (const [i, consumer] of applicable.entries()) {
      current = consumer.name;
      const effect = (tx: Tx) =>
        consumer.handle(event, { tx, db: deps.db, storage: deps.storage, logger: deps.logger.child({ consumer: consumer.name, eventId: event.id }) });
      // The last consumer of a batchable kind marks the event consumed in its own transaction.
      const last = i === applicable.length - 1;
      consumerStarted = performance.now();
      const outcome =
        consumer.batchable && deps.handleBatched
          ? await deps.handleBatched(consumer.name, event.id, effect, { markConsumed: last })
          : await handleOnce(deps.db, consumer.name, event.id, effect);
      deps.metrics?.consumerRan(consumer.name, outcome, (performance.now() - consumerStarted) / 1000);
      if (last && consumer.batchable && deps.handleBatched) consumedMarked = true;
      (outcome === "handled" ? handled : duplicates).push(consumer.name);
    }
    current = "dispatcher";
    if (!consumedMarked) await deps.markConsumed(event.id);
    deps.metrics?.consumed(event.type, event.createdAt);
    return { handled, duplicates };
  } catch (error) {
    if (current !== "dispatcher") deps.metrics?.consumerRan(current, "error", (performance.now() - consumerStarted) / 1000);
    const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (error !== null && typeof error === "object") failingConsumer.set(error, current);
    // A failure with retries left is only shown on the dashboard: best effort is enough. The last
    // one (the event becomes `dead`) is written by the worker's `failed` listener, which retries
    // until PostgreSQL takes it (see recordFinalFailure).
    if (!final) {
      await recordConsumerFailure(deps.db, event.id, current, error, false).catch((err) =>
        deps.logger.error({ err, eventId: event.id }, "could not record a consumer failure"),
      );
    }
    deps.logger.warn({ err: (error as Error).message, eventId: event.id, consumer: current, final }, "outbox consumer failed");
    throw error;
  }
}

/** Which consumer threw an error (read by the `failed` listener, which only gets the error). */
const failingConsumer = new WeakMap<object, string>();

/** BullMQ's reason for failing a job whose workers kept dying under it (see maxStalledCount). */
const STALLED_OUT = "job stalled more than allowable limit";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a consumer job that failed for good means for its event, written durably. Two ways end here:
 * - the handler threw on its last attempt (or threw UnrecoverableError): the event is `dead`;
 * - BullMQ failed the job without running the handler, because it stalled more than maxStalledCount
 *   times (workers died under it): the event goes back to the relay's retry path (recordStalledOut).
 * `removeOnFail` then deletes the job, so this listener is the last one who knows: it retries the
 * write with backoff until PostgreSQL takes it. If the process dies first, the reconciler finds the
 * event (in flight, no job) after OUTBOX_STALLED_AFTER_MS and sends it again.
 */
export function createFinalFailureRecorder(deps: { db: Db; logger: Logger; retryForMs?: number }) {
  const pending = new Set<Promise<void>>();
  let closing = false;

  async function write(eventId: string, error: Error, consumer: string | undefined) {
    const stalledOut = error.message === STALLED_OUT;
    const deadline = Date.now() + (deps.retryForMs ?? 10 * 60_000);
    for (let attempt = 1; ; attempt++) {
      try {
        if (stalledOut) await recordStalledOut(deps.db, eventId, error);
        else await recordConsumerFailure(deps.db, eventId, consumer ?? "dispatcher", error, true);
        if (attempt > 1) deps.logger.info({ eventId, attempt }, "consumer failure recorded after retrying");
        return;
      } catch (err) {
        if (closing || Date.now() > deadline) {
          deps.logger.error({ err, eventId }, "could not record a consumer failure; the outbox reconciler will send the event again");
          return;
        }
        if (attempt === 1) deps.logger.warn({ err: (err as Error).message, eventId }, "recording a consumer failure failed; retrying");
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
      }
    }
  }

  return {
    /** The BullMQ worker's `failed` listener. */
    onFailed(job: Pick<Job, "id" | "attemptsMade" | "finishedOn" | "opts"> | undefined, error: Error) {
      // Undefined: removed before it could be read; nothing to record, the reconciler covers it.
      if (!job?.id || !UUID.test(job.id)) return;
      const final = typeof job.finishedOn === "number" || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (!final) return;
      const p = write(job.id, error, failingConsumer.get(error)).finally(() => pending.delete(p));
      pending.add(p);
    },
    /** Let writes in progress finish (each gives up at once if it has to retry). */
    async close() {
      closing = true;
      await Promise.all(pending);
    },
  };
}

export interface StartConsumersDeps {
  db: Db;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  storage: BlobStorage;
  consumers?: readonly EventConsumer[];
  metrics?: ConsumerDeps["metrics"];
  options?: {
    concurrency?: number;
    /**
     * BullMQ's lock on an active job and how often workers look for jobs whose lock expired (their
     * worker died): such a job goes back to waiting, and after `maxStalledCount` stalls it is failed
     * (the `failed` listener then hands the event back to the relay). BullMQ's defaults: 30 s, 30 s, 1.
     */
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    maxStalledCount?: number;
  };
}

/** The BullMQ worker that dispatches outbox events to the consumers. */
export async function startOutboxConsumers(deps: StartConsumersDeps) {
  const logger = deps.logger.child({ component: "outbox-consumers" });
  const marker = createConsumedMarker(deps.db);
  const inbox = createInboxBatcher(deps.db);
  const consumerDeps: ConsumerDeps = {
    db: deps.db,
    storage: deps.storage,
    logger,
    consumers: deps.consumers ?? defaultConsumers,
    markConsumed: marker.mark,
    handleBatched: inbox.run,
    metrics: deps.metrics,
  };
  const stats = { handled: 0, failed: 0 };
  const worker = new Worker(
    QueueName.outboxEvents,
    async (job) => {
      await processOutboxJob(consumerDeps, job);
      stats.handled++;
      // No return value: it would be one more field written to Redis per event (the inbox says it all).
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.options?.concurrency ?? 32,
      ...(deps.options?.lockDurationMs ? { lockDuration: deps.options.lockDurationMs } : {}),
      ...(deps.options?.stalledIntervalMs ? { stalledInterval: deps.options.stalledIntervalMs } : {}),
      ...(deps.options?.maxStalledCount !== undefined ? { maxStalledCount: deps.options.maxStalledCount } : {}),
    },
  );
  const failures = createFinalFailureRecorder({ db: deps.db, logger });
  worker.on("failed", (job, err) => {
    stats.failed++;
    failures.onFailed(job, err);
  });
  worker.on("error", (err) => logger.warn({ err: err.message }, "outbox consumer worker error"));
  await worker.waitUntilReady();
  logger.info({ consumers: consumerDeps.consumers.map((c) => c.name) }, "outbox consumers started");
  return {
    worker,
    stats,
    async close() {
      await worker.close();
      await inbox.flush();
      await marker.flush();
      await failures.close();
    },
  };
}
