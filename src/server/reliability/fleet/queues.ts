import { QueueName } from "../../contracts/queues";

/** Every BullMQ queue the fleet runs (the registry in queue/queues.ts: a new queue shows up by itself). */
export const FLEET_QUEUES: readonly QueueName[] = Object.values(QueueName);

/**
 * Queues an operator may pause. Not the heartbeat: pausing it would make every worker's /healthz
 * report stale and a supervisor restart healthy processes.
 */
export const PAUSABLE_QUEUES = FLEET_QUEUES.filter((q) => q !== QueueName.heartbeat) as Array<Exclude<QueueName, "heartbeat">>;
export type PausableQueue = (typeof PAUSABLE_QUEUES)[number];
