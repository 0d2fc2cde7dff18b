import { DelayedError, Worker, type ConnectionOptions } from "bullmq";
import pg from "pg";
import type { Db } from "~/server/platform/db/client";
import type { SagaRegistry } from "~/server/reliability/saga/definition";
import { createSagaEngine, type SweepCursor } from "~/server/reliability/saga/engine";
import { createBullSagaDispatcher, createStepQueue } from "~/server/reliability/saga/step-queue";
import type { Logger } from "~/server/platform/logger";
import { jobSchemas, queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { bullmqTelemetry } from "~/server/platform/telemetry/bullmq";
import { contextFromCarrier, SpanKind, withSpan } from "~/server/platform/telemetry/tracing";
import type { WorkerMetrics } from "../metrics";

export interface SagaRunnerOptions {
  connection: ConnectionOptions;
  prefix: string;
  db: Db;
  /** When given, the two statements of every step run on a pg pool as prepared statements (faster). */
  databaseUrl?: string;
  registry: SagaRegistry;
  logger: Logger;
  /** Steps run at once in this process. */
  concurrency?: number;
  /**
   * BullMQ's lock on an active job; a worker that dies (SIGKILL) stops renewing it, and after it
   * expires the stalled-job check hands the job to another worker.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often this process looks for sagas with no live job, and how long a saga must be idle first. */
  sweepEveryMs?: number;
  stuckAfterMs?: number;
  /** Step durations by saga type and step, and sagas finished, for the worker's /metrics. */
  metrics?: Pick<WorkerMetrics, "sagaStepRan">;
}

/**
 * The saga step runner: a BullMQ worker on the saga-step queue that hands each job to the engine,
 * plus the sweeper. Step failures with attempts left are thrown so BullMQ retries with backoff;
 * a step someone else holds is put back as delayed (no attempt spent).
 */
export async function startSagaRunner(opts: SagaRunnerOptions) {
  const queue = createStepQueue({ connection: opts.connection, prefix: opts.prefix });
  // Without a listener BullMQ prints every connection error of an outage to stderr, unstructured.
  let lastQueueError = 0;
  queue.on("error", (err) => {
    if (Date.now() - lastQueueError > 10_000) opts.logger.warn({ err: err.message }, "saga step queue connection error");
    lastQueueError = Date.now();
  });
  // The engine queues only jobs it built from a parsed job or a saga row: no second parse (see there).
  const dispatcher = createBullSagaDispatcher(queue, { validated: true });
  const concurrency = opts.concurrency ?? 8;
  // One connection per concurrent step (claim and finish of a step never overlap) plus the sweeper.
  const sql = opts.databaseUrl ? new pg.Pool({ connectionString: opts.databaseUrl, max: concurrency + 1 }) : undefined;
  sql?.on("error", (err) => opts.logger.error({ err }, "saga runner pg pool error"));
  const engine = createSagaEngine({ db: opts.db, sql, registry: opts.registry, dispatcher, logger: opts.logger });

  const worker = new Worker(
    QueueName.sagaStep,
    async (job, token) => {
      const data = jobSchemas["saga-step"].parse(job.data);
      const stepName = opts.registry.get(data.sagaType)?.steps[data.stepIndex]?.name ?? String(data.stepIndex);
      // Jobs queued before steps carried a correlation id (or trace context) run without them.
      // Made only when a line is written at this logger's level: a child logger per step is CPU
      // every step pays (most outcomes log at debug, below the usual level).
      const log = (level: "warn" | "debug") =>
        level === "debug" && !opts.logger.isLevelEnabled("debug")
          ? null
          : opts.logger.child({ sagaId: data.sagaId, sagaType: data.sagaType, step: stepName, phase: data.phase, ...(data.correlationId ? { correlationId: data.correlationId } : {}) });
      return withSpan(
        `saga.step ${data.sagaType}.${stepName} ${data.phase}`,
        {
          kind: SpanKind.CONSUMER,
          parent: contextFromCarrier({ traceparent: data.traceparent }),
          attributes: {
            "metastore.saga_id": data.sagaId,
            "metastore.saga_type": data.sagaType,
            "metastore.saga_step": stepName,
            "metastore.saga_phase": data.phase,
            "metastore.attempt": job.attemptsMade + 1,
            ...(data.correlationId ? { "metastore.correlation_id": data.correlationId } : {}),
          },
        },
        async () => {
          const started = performance.now();
          const outcome = await engine.runStep(data, {
            attemptsMade: job.attemptsMade,
            redelivered: job.attemptsStarted > 1 || job.stalledCounter > 0,
            maxAttempts: job.opts.attempts ?? 1,
            queuedAt: job.timestamp,
          });
          // A "wait" ran nothing (another worker holds the step): only work done is timed.
          if (opts.metrics && outcome.kind !== "wait") {
            // Labels from the registry, not the job: a type or step the code does not know is "unknown".
            const def = opts.registry.get(data.sagaType);
            opts.metrics.sagaStepRan(
              { sagaType: def ? def.type : "unknown", step: def?.steps[data.stepIndex]?.name ?? "unknown", phase: data.phase, result: outcome.kind },
              (performance.now() - started) / 1000,
              outcome.kind === "advanced" ? outcome.status : undefined,
            );
          }
          switch (outcome.kind) {
            case "retry":
              log("warn")?.warn({ err: outcome.error.message }, "saga step failed; retrying");
              throw outcome.error;
            case "wait":
              await job.moveToDelayed(outcome.untilMs, token);
              throw new DelayedError();
            case "stale":
              log("debug")?.debug({ reason: outcome.reason }, "stale saga step job dropped");
              return { stale: outcome.reason };
            case "advanced":
              log("debug")?.debug({ status: outcome.status }, "saga step done");
              return { status: outcome.status };
          }
        },
      );
    },
    {
      connection: opts.connection,
      prefix: queueKeyPrefix(opts.prefix, QueueName.sagaStep),
      ...bullmqTelemetry(),
      concurrency,
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      // A job that stalls again and again is failed by BullMQ; the sweeper then queues it anew.
      maxStalledCount: 3,
    },
  );
  worker.on("failed", (job, err) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
      opts.logger.error({ err, jobId: job.id }, "saga step job failed for good; the sweeper will re-queue it");
    }
  });
  worker.on("error", (err) => opts.logger.error({ err }, "saga runner error"));

  const sweepEveryMs = opts.sweepEveryMs ?? 10_000;
  const stuckAfterMs = opts.stuckAfterMs ?? 30_000;
  let sweeping: Promise<void> | null = null;
  // Each pass goes on where the last one stopped, so sagas that can never be re-queued (and stay the
  // oldest) cannot keep the sweeper from the others (see engine.sweep).
  let cursor: SweepCursor | null = null;
  const timer = setInterval(() => {
    if (sweeping) return; // one sweep at a time per process
    sweeping = engine
      .sweep({ stuckAfterMs, after: cursor })
      .then(({ next, failures, ...r }) => {
        cursor = next;
        if (r.redispatched) opts.logger.warn(r, "saga sweeper re-queued steps of stuck sagas");
        if (r.failed) opts.logger.error({ ...r, failures }, "saga sweeper could not re-queue the steps of some stuck sagas");
      })
      .catch((err) => opts.logger.error({ err }, "saga sweep failed"))
      .finally(() => {
        sweeping = null;
      });
  }, sweepEveryMs);
  timer.unref();

  return {
    engine,
    queue,
    worker,
    async close() {
      clearInterval(timer);
      await sweeping;
      await worker.close();
      await queue.close();
      await sql?.end();
    },
  };
}
