import { Queue, type ConnectionOptions } from "bullmq";
import { jobSchemas, QueueName } from "../../queue/queues";
import type { DispatchOptions, SagaDispatcher, StepJob } from "./types";

/**
 * The saga step queue on BullMQ. One job per (saga, phase, step, generation), with that as the job
 * id: queuing the same step twice while a job for it is alive is a no-op, which is what makes the
 * sweeper safe to run in every worker at once.
 */

export function stepJobId(job: StepJob): string {
  // BullMQ custom ids may not contain ":".
  return `${job.sagaId}_${job.phase === "execute" ? "e" : "c"}${job.stepIndex}_g${job.generation}`;
}

const LIVE_STATES = new Set(["waiting", "delayed", "active", "prioritized", "waiting-children"]);

export function createStepQueue(opts: { connection: ConnectionOptions; prefix: string }) {
  return new Queue(QueueName.sagaStep, { connection: opts.connection, prefix: opts.prefix });
}

export function createBullSagaDispatcher(queue: Queue): SagaDispatcher {
  async function dispatch(job: StepJob, options: DispatchOptions) {
    const data = jobSchemas["saga-step"].parse(job);
    await queue.add(`${job.sagaType}:${job.phase}:${job.stepIndex}`, data, {
      jobId: stepJobId(job),
      attempts: options.attempts,
      backoff: { type: "exponential", delay: options.backoffMs, jitter: 0.2 },
      // PostgreSQL holds the saga's history; finished jobs only cost Redis memory. Failed jobs are
      // machinery failures (the step's own failures end in the saga), kept a day for debugging.
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    });
  }
  return {
    dispatch,
    async ensure(job, options) {
      const existing = await queue.getJob(stepJobId(job));
      if (existing) {
        const state = await existing.getState();
        if (LIVE_STATES.has(state)) return false;
        // Completed or failed without moving the saga: clear it so the id can be queued again.
        await existing.remove().catch(() => {});
      }
      await dispatch(job, options);
      return true;
    },
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
