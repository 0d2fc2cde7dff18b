import { QueueName } from "../../queue/queues";

/** Every BullMQ queue the fleet runs, in the order the console lists them. */
export const FLEET_QUEUES = [
  QueueName.outboxEvents,
  QueueName.sagaStep,
  QueueName.outboxRetention,
  QueueName.idempotencyCleanup,
  QueueName.orphanBlobSweep,
  QueueName.heartbeat,
] as const satisfies readonly QueueName[];

/**
 * Queues an operator may pause. Not the heartbeat: pausing it would make every worker's /healthz
 * report stale and a supervisor restart healthy processes.
 */
export const PAUSABLE_QUEUES = FLEET_QUEUES.filter((q) => q !== QueueName.heartbeat) as Array<Exclude<(typeof FLEET_QUEUES)[number], "heartbeat">>;
export type PausableQueue = (typeof PAUSABLE_QUEUES)[number];
