import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Db } from "~/server/db/client";
import type { Tx } from "~/server/db/transaction";
import { createInboxBatcher, handleOnce, markConsumed, recordConsumerFailure } from "~/server/domain/outbox/consumption";
import { deliveredEventSchema } from "~/server/domain/outbox/events";
import type { Logger } from "~/server/logger";
import { QueueName } from "~/server/queue/queues";
import type { BlobStorage } from "~/server/storage/blob-storage";
import { defaultConsumers, type EventConsumer } from "./consumers";

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
  try {
    const applicable = deps.consumers.filter((c) => c.handles.includes(event.type));
    let consumedMarked = false;
    for (const [i, consumer] of applicable.entries()) {
      current = consumer.name;
      const effect = (tx: Tx) =>
        consumer.handle(event, { tx, db: deps.db, storage: deps.storage, logger: deps.logger.child({ consumer: consumer.name, eventId: event.id }) });
      // The last consumer of a batchable kind marks the event consumed in its own transaction.
      const last = i === applicable.length - 1;
      const outcome =
        consumer.batchable && deps.handleBatched
          ? await deps.handleBatched(consumer.name, event.id, effect, { markConsumed: last })
          : await handleOnce(deps.db, consumer.name, event.id, effect);
      if (last && consumer.batchable && deps.handleBatched) consumedMarked = true;
      (outcome === "handled" ? handled : duplicates).push(consumer.name);
    }
    current = "dispatcher";
    if (!consumedMarked) await deps.markConsumed(event.id);
    return { handled, duplicates };
  } catch (error) {
    const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    await recordConsumerFailure(deps.db, event.id, current, error, final).catch((err) =>
      deps.logger.error({ err, eventId: event.id }, "could not record a consumer failure"),
    );
    deps.logger.warn({ err: (error as Error).message, eventId: event.id, consumer: current, final }, "outbox consumer failed");
    throw error;
  }
}

export interface StartConsumersDeps {
  db: Db;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  storage: BlobStorage;
  consumers?: readonly EventConsumer[];
  options?: { concurrency?: number };
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
  };
  const stats = { handled: 0, failed: 0 };
  const worker = new Worker(
    QueueName.outboxEvents,
    async (job) => {
      await processOutboxJob(consumerDeps, job);
      stats.handled++;
      // No return value: it would be one more field written to Redis per event (the inbox says it all).
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: deps.options?.concurrency ?? 32 },
  );
  worker.on("failed", () => void stats.failed++);
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
    },
  };
}
