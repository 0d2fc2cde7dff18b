import { z } from "zod";
import { deliveredEventSchema } from "./events";
import { sagaPhaseSchema } from "./statuses";

/**
 * Every BullMQ queue of MetaStore, with the zod schema of its job payload. Producers and the
 * worker import these so a payload shape is written once. Queues live under the configured prefix
 * (QUEUE_PREFIX), which is how tests get queues of their own.
 */
export const QueueName = {
  heartbeat: "heartbeat",
  /** One job per saga step (execute or compensate): src/server/reliability/saga, worker/jobs/saga-runner.ts. */
  sagaStep: "saga-step",
  /** One job per outbox event (job id = event id), published by the relay, handled by the consumers. */
  outboxEvents: "outbox-events",
  /** The outbox retention job (a job scheduler). */
  outboxRetention: "outbox-retention",
  idempotencyCleanup: "idempotency-cleanup",
  /** Removes blobs nothing can still need (a job scheduler): src/server/features/files/orphan-blobs.ts. */
  orphanBlobSweep: "orphan-blob-sweep",
  /** Runs a bulk operator action in batches (src/server/reliability/bulk, worker/jobs/bulk-operations.ts). */
  bulkOperations: "bulk-operations",
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/**
 * BullMQ's key prefix for one queue, from the app's BullMQ prefix (platform/redis.ts queuePrefix).
 * On a Redis Cluster that prefix is a hash tag (`{app}`) and each queue gets a tag of its own,
 * `{app:queue}`: BullMQ's Lua scripts touch several keys of ONE queue (so those share a slot), and
 * nothing here needs two queues in one slot (no FlowProducer: no parent/child jobs across queues;
 * the relay, reconciler and saga dispatch each talk to one queue), so the queues spread over the
 * masters instead of all landing on one. One Redis keeps the plain prefix: key names unchanged.
 * Every Queue/Worker of a MetaStore queue is made with this prefix, web and worker alike.
 */
export function queueKeyPrefix(prefix: string, queue: QueueName): string {
  const tag = /^\{([^}]+)\}$/.exec(prefix)?.[1];
  return tag ? `{${tag}:${queue}}` : prefix;
}

/**
 * Where the heartbeat job writes the time of its last run (read by the worker's /healthz and the web's /api/metrics).
 * The worker knows BullMQ's prefix (`{app}` on a Redis Cluster), the web the app prefix: both name the same key.
 */
export function workerHeartbeatKey(prefix: string): string {
  const appPrefix = /^\{([^}]+)\}$/.exec(prefix)?.[1] ?? prefix;
  return `${appPrefix}:worker:heartbeat`;
}

export const jobSchemas = {
  heartbeat: z.object({ sentAt: z.string() }),
  "saga-step": z.object({
    sagaId: z.uuid(),
    sagaType: z.string().min(1),
    phase: sagaPhaseSchema,
    stepIndex: z.number().int().min(0),
    /** Bumped by a redrive, so jobs and execution ids of the previous run can never be mistaken for the new one. */
    generation: z.number().int().min(0),
    /**
     * Set when the previous step's finish already took this step's lease for this job (same
     * statement): the job's first delivery runs the step without a claim statement of its own.
     */
    preclaim: z
      .object({
        attempt: z.number().int().min(1),
        version: z.number().int().min(0),
        executionId: z.string().min(1),
        /** When the lease was taken (ms since epoch). */
        at: z.number(),
        input: z.unknown(),
        context: z.unknown(),
        executedOutput: z.unknown(),
      })
      .optional(),
    /** Absent in jobs queued before correlation existed: such jobs still run. */
    correlationId: z.string().min(1).max(200).optional(),
    traceparent: z.string().max(100).optional(),
  }),
  "outbox-events": deliveredEventSchema,
  "outbox-retention": z.object({}),
  "idempotency-cleanup": z.object({ batchSize: z.number().int().positive().max(10_000) }),
  "orphan-blob-sweep": z.object({ graceMs: z.number().int().min(60_000), maxDeletes: z.number().int().positive().max(100_000) }),
  "bulk-operations": z.object({ operationId: z.uuid() }),
} satisfies Record<QueueName, z.ZodType>;

export type JobPayload<Q extends QueueName> = z.infer<(typeof jobSchemas)[Q]>;
