import { Queue, type ConnectionOptions } from "bullmq";
import { queueKeyPrefix, QueueName } from "../../contracts/queues";
import type { BulkQueue } from "./operations";

/** How long a web request waits for Redis to take the job; past it, the sweeper queues it. */
const ENQUEUE_TIMEOUT_MS = 1_000;

const queues = new WeakMap<object, Map<string, Queue>>();

/** One BullMQ queue per connection and prefix in a process (a Queue holds a Redis connection). */
function sharedQueue(connection: ConnectionOptions & object, prefix: string): Queue {
  let byPrefix = queues.get(connection);
  if (!byPrefix) queues.set(connection, (byPrefix = new Map()));
  let queue = byPrefix.get(prefix);
  if (!queue) byPrefix.set(prefix, (queue = new Queue(QueueName.bulkOperations, { connection, prefix: queueKeyPrefix(prefix, QueueName.bulkOperations) })));
  return queue;
}

export const bulkJobOptions = { removeOnComplete: 200, removeOnFail: 200, attempts: 5, backoff: { type: "exponential", delay: 1_000 } } as const;

/** Queues a run of a bulk operation (at-least-once: a duplicate run is harmless, batches lock the row). */
export function bulkQueueFor(connection: ConnectionOptions & object, prefix: string): BulkQueue {
  const queue = sharedQueue(connection, prefix);
  return {
    async enqueue(operationId) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not take the bulk job within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
      });
      try {
        await Promise.race([queue.add("run", { operationId }, { ...bulkJobOptions, jobId: operationId }), deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
