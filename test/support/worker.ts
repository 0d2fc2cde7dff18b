/**
 * The worker jobs that tests beside the mechanisms and the feature run for real (saga runner,
 * outbox retention, the consumer registry). Tests under src/ reach the worker only through here,
 * so no file under src/ imports worker/ (the rule eslint.config.mjs enforces).
 */
export { startSagaRunner } from "../../worker/jobs/saga-runner";
export { startOutboxRetention } from "../../worker/jobs/scheduled/outbox-retention";
export { defaultConsumers } from "../../worker/jobs/consumer-registry";
export { startBulkOperations } from "../../worker/jobs/bulk-operations";
export { startHeartbeat } from "../../worker/jobs/scheduled/heartbeat";
export { createInFlightTracker } from "../../worker/jobs/in-flight";
