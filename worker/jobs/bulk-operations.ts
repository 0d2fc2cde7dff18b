import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import { failBulk, runBulkOperation, staleBulkOperations, type BulkActors } from "~/server/reliability/bulk/operations";
import type { SagaRegistry } from "~/server/reliability/saga/definition";
import { createSagaOperations } from "~/server/reliability/saga/operations";
import { createBullSagaDispatcher, createStepQueue } from "~/server/reliability/saga/step-queue";
import { bulkJobOptions } from "~/server/reliability/bulk/queue";
import type { Logger } from "~/server/platform/logger";
import { jobSchemas, queueKeyPrefix, QueueName } from "~/server/contracts/queues";

const SAGA_DISPATCH_TIMEOUT_MS = 5_000;

export interface BulkWorkerOptions {
  concurrency?: number;
  /** How often to look for operations nothing is moving (their job lost, their worker killed). */
  sweepEveryMs?: number;
  /** An unfinished operation not updated for this long is queued again. */
  staleAfterMs?: number;
  /** BullMQ lock of a running job: a job whose worker died is taken up again after it. */
  lockDurationMs?: number;
}

/**
 * Runs bulk operator actions (src/server/reliability/bulk) on outbox events and sagas. A job runs its operation batch by batch
 * until it ends; PostgreSQL holds all progress, so a job that dies (SIGKILL, Redis wiped) is
 * simply run again — by BullMQ's stalled-job recovery, or by the sweeper here, which queues any
 * pending or running operation that has not moved for `staleAfterMs`. Two runs of one operation
 * at once are harmless: each batch locks the operation's row and continues from its cursor.
 */
export async function startBulkOperations(opts: {
  db: Db;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  /** The sagas this worker knows: given, it runs bulk actions on sagas with the one-saga operations. */
  sagaRegistry?: SagaRegistry;
  options?: BulkWorkerOptions;
}) {
  const { db, logger } = opts;
  const o = { concurrency: 2, sweepEveryMs: 10_000, staleAfterMs: 30_000, lockDurationMs: 30_000, ...opts.options };
  let closing = false;
  // Saga steps a bulk redrive, abort or resume queues go to the saga runner's own step queue. Its
  // Redis calls (an abort's marks, a resume's check) run before a batch's transaction begins, and
  // a redrive's after it commits (bulk/saga-target.ts): bounded, so a Redis outage fails the batch
  // before it holds a lock, and the job runs it again.
  const stepQueue = opts.sagaRegistry ? createStepQueue({ connection: opts.connection, prefix: opts.prefix }) : undefined;
  stepQueue?.on("error", (err) => logger.warn({ err: err.message }, "bulk saga step queue error"));
  const actors: BulkActors = stepQueue && opts.sagaRegistry ? { sagas: createSagaOperations({ db, registry: opts.sagaRegistry, dispatcher: createBullSagaDispatcher(stepQueue, { timeoutMs: SAGA_DISPATCH_TIMEOUT_MS }), logger }) } : {};
  const queue = new Queue(QueueName.bulkOperations, { connection: opts.connection, prefix: queueKeyPrefix(opts.prefix, QueueName.bulkOperations) });
  queue.on("error", (err) => logger.warn({ err: err.message }, "bulk queue error"));
  const worker = new Worker(
    QueueName.bulkOperations,
    async (job) => {
      const { operationId } = jobSchemas[QueueName.bulkOperations].parse(job.data);
      const outcome = await runBulkOperation(db, operationId, { shouldStop: () => closing, actors });
      if (outcome.done) logger.info({ operationId, status: outcome.status }, "bulk operation ended");
      return outcome;
    },
    { connection: opts.connection, prefix: queueKeyPrefix(opts.prefix, QueueName.bulkOperations), concurrency: o.concurrency, lockDuration: o.lockDurationMs, stalledInterval: Math.max(500, Math.floor(o.lockDurationMs / 2)) },
  );
  worker.on("failed", (job, err) => {
    logger.warn({ err: err.message, jobId: job?.id, attemptsMade: job?.attemptsMade }, "bulk operation run failed");
    const parsed = jobSchemas[QueueName.bulkOperations].safeParse(job?.data);
    // Out of attempts: a fault that keeps coming back is a bug, not a crash; say so on the operation.
    if (job && parsed.success && job.attemptsMade >= (job.opts.attempts ?? 1)) {
      void failBulk(db, parsed.data.operationId, err.message).catch((e: unknown) => logger.warn({ err: String(e) }, "could not mark the bulk operation failed"));
    }
  });
  worker.on("error", (err) => logger.warn({ err: err.message }, "bulk worker error"));

  let sweeping: Promise<void> | null = null;
  const sweep = async () => {
    for (const id of await staleBulkOperations(db, o.staleAfterMs)) {
      // Touch it first, so the next sweep does not queue it again while this run waits for a slot.
      await db.bulkOperation.update({ where: { id }, data: { updatedAt: new Date() } });
      await queue.add("run", { operationId: id }, { ...bulkJobOptions, jobId: `${id}-r${Date.now()}` });
      logger.info({ operationId: id }, "bulk operation had not moved; queued it again");
    }
  };
  const timer = setInterval(() => {
    if (sweeping || closing) return;
    sweeping = sweep()
      .catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, "bulk sweep failed"))
      .finally(() => {
        sweeping = null;
      });
  }, o.sweepEveryMs);
  timer.unref();

  return {
    worker,
    queue,
    sweepNow: sweep,
    async close() {
      closing = true;
      clearInterval(timer);
      await sweeping;
      await worker.close();
      await queue.close();
      await stepQueue?.close();
    },
  };
}
