import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { v7 as uuidv7 } from "uuid";
import type { Db } from "~/server/platform/db/client";
import type { Tx } from "~/server/platform/db/transaction";
import {
  createConsumedMarker,
  createInboxBatcher,
  handleOnce,
  recordConsumerFailure,
  type DeliveryAttempt,
} from "~/server/reliability/outbox/consumption";
import { workerIdentity } from "~/server/platform/worker-identity";
import { recordStalledOut } from "~/server/reliability/outbox/reconcile-store";
import { deliveredEventSchema, type DeliveredEvent } from "~/server/contracts/events";
import { bullmqTelemetry } from "~/server/platform/telemetry/bullmq";
import { contextFromCarrier, SpanKind, withSpan, type TraceCarrier } from "~/server/platform/telemetry/tracing";
import type { Logger } from "~/server/platform/logger";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import type { BlobStorage } from "~/server/platform/storage/blob-storage";
import { defaultConsumers, type EventConsumer } from "./consumer-registry";
import type { WorkerMetrics } from "../metrics";

export interface ConsumerDeps {
  db: Db;
  storage: BlobStorage;
  logger: Logger;
  consumers: readonly EventConsumer[];
  markConsumed(id: string): Promise<void>;
  /** How batchable consumers run their inbox + effect (default: a transaction per event). */
  handleBatched?(
    consumer: string,
    eventId: string,
    effect: (tx: Tx) => Promise<void>,
    opts?: { markConsumed?: boolean; attempt?: DeliveryAttempt; txFree?: boolean },
  ): Promise<"handled" | "duplicate">;
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
  // Jobs queued before events carried a correlation id (or trace context) simply have none.
  const correlationId = typeof event.headers.correlationId === "string" ? event.headers.correlationId : undefined;
  // The event's child logger is made only when something is logged: a child per event (and one per
  // consumer) was measurable CPU on a path that normally logs nothing (bench:outbox).
  let eventLogger: Logger | undefined;
  const logger = () => (eventLogger ??= deps.logger.child({ eventId: event.id, eventType: event.type, ...(correlationId ? { correlationId } : {}) }));
  const attempt = job.attemptsMade + 1;
  // The consumer's span is a child of the request that committed the event (W3C context in its headers).
  return withSpan(
    `outbox.consume ${event.type}`,
    {
      kind: SpanKind.CONSUMER,
      parent: contextFromCarrier(event.headers as TraceCarrier),
      attributes: { "messaging.message.id": event.id, "messaging.operation.type": "process", "metastore.attempt": attempt, ...(correlationId ? { "metastore.correlation_id": correlationId } : {}) },
    },
    () => dispatchToConsumers(deps, job, event, logger, attempt),
  );
}

async function dispatchToConsumers(deps: ConsumerDeps, job: OutboxJob, event: DeliveredEvent, logger: () => Logger, attempt: number) {
  const handled: string[] = [];
  const duplicates: string[] = [];
  let current = "dispatcher";
  // Each consumer's attempt is kept with its outcome (see DeliveryAttempt); this one is the dispatcher's until a consumer starts.
  let delivery: DeliveryAttempt = { attempt, startedAt: Date.now(), worker: workerIdentity };
  let consumerStarted = 0;
  try {
    const applicable = deps.consumers.filter((c) => c.handles.includes(event.type));
    let consumedMarked = false;
    for (const [i, consumer] of applicable.entries()) {
      current = consumer.name;
      delivery = { ...delivery, startedAt: Date.now() };
      let consumerLogger: Logger | undefined;
      const effect = (tx: Tx) =>
        consumer.handle(event, {
          tx,
          db: deps.db,
          storage: deps.storage,
          get logger() {
            return (consumerLogger ??= logger().child({ consumer: consumer.name }));
          },
        });
      // The last consumer of a batchable kind marks the event consumed in its own transaction.
      const last = i === applicable.length - 1;
      consumerStarted = performance.now();
      const outcome = await withSpan(`consumer ${consumer.name}`, { attributes: { "metastore.consumer": consumer.name } }, () =>
        consumer.batchable && deps.handleBatched
          ? deps.handleBatched(consumer.name, event.id, effect, { markConsumed: last, attempt: delivery, txFree: consumer.txFree })
          : handleOnce(deps.db, consumer.name, event.id, effect, delivery),
      );
      deps.metrics?.consumerRan(consumer.name, outcome, (performance.now() - consumerStarted) / 1000);
      if (last && consumer.batchable && deps.handleBatched) consumedMarked = true;
      (outcome === "handled" ? handled : duplicates).push(consumer.name);
    }
    current = "dispatcher";
    if (!consumedMarked) await deps.markConsumed(event.id);
    if (deps.logger.isLevelEnabled("debug")) logger().debug({ handled, duplicates, attempt }, "outbox event handled");
    deps.metrics?.consumed(event.type, event.createdAt);
    return { handled, duplicates };
  } catch (error) {
    if (current !== "dispatcher") deps.metrics?.consumerRan(current, "error", (performance.now() - consumerStarted) / 1000);
    const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const failed = { ...delivery, id: uuidv7(), durationMs: Date.now() - delivery.startedAt };
    if (error !== null && typeof error === "object") failingConsumer.set(error, { consumer: current, attempt: failed });
    // A failure with retries left is only shown on the dashboard: best effort is enough. The last
    // one (the event becomes `dead`) is written by the worker's `failed` listener, which retries
    // until PostgreSQL takes it (see recordFinalFailure).
    if (!final) {
      await recordConsumerFailure(deps.db, event.id, current, error, false, failed).catch((err) =>
        logger().error({ err }, "could not record a consumer failure"),
      );
    }
    logger().warn({ err: (error as Error).message, consumer: current, final }, "outbox consumer failed");
    throw error;
  }
}

/** Which consumer threw an error, and its attempt (read by the `failed` listener, which only gets the error). */
const failingConsumer = new WeakMap<object, { consumer: string; attempt: DeliveryAttempt & { id: string } }>();

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

  async function write(eventId: string, error: Error, failing: { consumer: string; attempt: DeliveryAttempt & { id: string } } | undefined) {
    const stalledOut = error.message === STALLED_OUT;
    const deadline = Date.now() + (deps.retryForMs ?? 10 * 60_000);
    for (let attempt = 1; ; attempt++) {
      try {
        if (stalledOut) await recordStalledOut(deps.db, eventId, error);
        else await recordConsumerFailure(deps.db, eventId, failing?.consumer ?? "dispatcher", error, true, failing?.attempt);
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
    /** The inbox micro-batch: at most this many items, written this long after the first came in. */
    inboxMaxBatch?: number;
    inboxMaxDelayMs?: number;
  };
}

/** The BullMQ worker that dispatches outbox events to the consumers. */
export async function startOutboxConsumers(deps: StartConsumersDeps) {
  const logger = deps.logger.child({ component: "outbox-consumers" });
  const marker = createConsumedMarker(deps.db);
  const inbox = createInboxBatcher(deps.db, { maxBatch: deps.options?.inboxMaxBatch, maxDelayMs: deps.options?.inboxMaxDelayMs });
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
      prefix: queueKeyPrefix(deps.prefix, QueueName.outboxEvents),
      ...bullmqTelemetry(),
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
