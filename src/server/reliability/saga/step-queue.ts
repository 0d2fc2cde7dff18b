import { Queue, type ConnectionOptions } from "bullmq";
import { jobSchemas, queueKeyPrefix, QueueName } from "../../contracts/queues";
import { createBatchedGet } from "./mark-batch";
import type { AbortMarkKey, DispatchOptions, SagaDispatcher, StepJob } from "./types";

/**
 * The saga step queue on BullMQ. One job per (saga, phase, step, generation), with that as the job
 * id: queuing the same step twice while a job for it is alive is a no-op, which is what makes the
 * sweeper safe to run in every worker at once.
 */

export function stepJobId(job: StepJob): string {
  // BullMQ custom ids may not contain ":".
  return `${job.sagaId}_${job.phase === "execute" ? "e" : "c"}${job.stepIndex}_g${job.generation}`;
}

/** The abort mark of one saga generation (see SagaDispatcher.markAbort), in the queue's key space. */
export function abortMarkKey(queue: Queue, saga: AbortMarkKey): string {
  return queue.toKey(`abort:${saga.sagaId}_g${saga.generation}`);
}

const LIVE_STATES = new Set(["waiting", "delayed", "active", "prioritized", "waiting-children"]);

export function createStepQueue(opts: { connection: ConnectionOptions; prefix: string }) {
  return new Queue(QueueName.sagaStep, { connection: opts.connection, prefix: queueKeyPrefix(opts.prefix, QueueName.sagaStep) });
}

/** How long a runner waits for the abort mark before asking PostgreSQL instead. */
const ABORT_MARK_READ_MS = 1_000;

/** Redis did not take a step job within the dispatcher's deadline (the job may still land later). */
export class DispatchTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not take the saga step job within ${ms} ms`);
    this.name = "DispatchTimeoutError";
  }
}

/** `work`, or a DispatchTimeoutError after `ms`; `work` is not cancelled (BullMQ offers no way). */
function withDeadline<T>(work: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DispatchTimeoutError(ms)), ms);
  });
  // A late failure of the abandoned work must not surface as an unhandled rejection.
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The dispatcher of saga steps on BullMQ. `timeoutMs` bounds how long a caller waits for Redis:
 * a web request must not wait out a Redis outage (ioredis reconnecting, BullMQ waiting for its
 * connection) when PostgreSQL already holds the saga and the sweeper queues any step that has no
 * job. A job abandoned at the deadline may still be queued later: its id is the step's, so that
 * is the same job the sweeper would queue. The worker passes none: it has no one waiting on it.
 * `validated`: the caller's jobs are built by the engine from a job it parsed on receipt or from the
 * saga's row (the runner), so checking them again against the schema before queuing is CPU spent on
 * every step for nothing; the runner still parses every job it takes from Redis.
 */
export function createBullSagaDispatcher(source: Queue | (() => Queue), opts: { timeoutMs?: number; validated?: boolean } = {}): SagaDispatcher {
  // A function: the queue is made at the first use, so a process that never queues a step (a web
  // process nobody starts a saga in) opens no connection for it.
  let made: Queue | undefined = typeof source === "function" ? undefined : source;
  const q = () => (made ??= (source as () => Queue)());
  async function add(job: StepJob, options: DispatchOptions) {
    const data = opts.validated ? job : jobSchemas["saga-step"].parse(job);
    await q().add(`${job.sagaType}:${job.phase}:${job.stepIndex}`, data, {
      jobId: stepJobId(job),
      attempts: options.attempts,
      backoff: { type: "exponential", delay: options.backoffMs, jitter: 0.2 },
      // PostgreSQL holds the saga's history; finished jobs only cost Redis memory. Failed jobs are
      // machinery failures (the step's own failures end in the saga), kept a day for debugging.
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    });
  }
  async function ensure(job: StepJob, options: DispatchOptions) {
    const existing = await q().getJob(stepJobId(job));
    if (existing) {
      const state = await existing.getState();
      if (LIVE_STATES.has(state)) return false;
      // Completed or failed without moving the saga: clear it so the id can be queued again.
      await existing.remove().catch(() => {});
    }
    await add(job, options);
    return true;
  }
  // The runner reads one abort mark per step: concurrent jobs' reads go out as one MGET per
  // event-loop turn instead of one GET round trip each. Safe for the argument in types.ts
  // (SagaDispatcher.markAbort): each job's read is still sent after BullMQ handed the job over and
  // before its body starts, only possibly later, and a later read can only see more marks.
  const readMark = createBatchedGet(() => q().getBackend().client);
  return {
    dispatch: (job, options) => withDeadline(add(job, options), opts.timeoutMs),
    ensure: (job, options) => withDeadline(ensure(job, options), opts.timeoutMs),
    markAbort: (saga, ttlMs) =>
      withDeadline(
        q()
          .getBackend()
          .client.then((redis) => redis.set(abortMarkKey(q(), saga), "1", { PX: Math.ceil(ttlMs) }))
          .then(() => undefined),
        opts.timeoutMs,
      ),
    markAborts: (marks) =>
      withDeadline(
        q().getBackend().client.then(async (redis) => {
          if (marks.length === 0) return;
          // One pipeline: the keys share the queue's hash tag on a cluster, so one node takes them all.
          const pipeline = redis.pipeline();
          for (const { saga, ttlMs } of marks) pipeline.runCommand("set", [abortMarkKey(q(), saga), "1", "PX", Math.ceil(ttlMs)]);
          const replies = await pipeline.exec();
          const failed = replies?.find(([err]) => err !== null)?.[0];
          if (!replies || failed) throw failed ?? new Error("the abort marks' pipeline was discarded");
        }),
        opts.timeoutMs,
      ),
    // Bounded even in the worker (whose connection waits out outages): past it the engine asks PostgreSQL.
    abortMarked: (saga) => withDeadline(readMark(abortMarkKey(q(), saga)).then((mark) => mark !== null), opts.timeoutMs ?? ABORT_MARK_READ_MS),
  };
}

/**
 * One queue per (Redis client, prefix) for web processes, which start sagas from request handlers:
 * a Queue per request would open a connection per request. It rides on the app's ioredis client
 * (Queue issues no blocking commands), which the app closes itself.
 */
const queues = new WeakMap<object, Map<string, Queue>>();

export function sharedStepQueue(connection: ConnectionOptions & object, prefix: string): Queue {
  let byPrefix = queues.get(connection);
  if (!byPrefix) queues.set(connection, (byPrefix = new Map()));
  let queue = byPrefix.get(prefix);
  if (!queue) byPrefix.set(prefix, (queue = createStepQueue({ connection, prefix })));
  return queue;
}
