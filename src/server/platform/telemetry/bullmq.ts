import { BullMQOtel } from "bullmq-otel";
import { TRACER_NAME, tracingEnabled } from "./tracing";

/**
 * BullMQ's own OpenTelemetry integration (bullmq-otel) for a Queue or Worker: spans for adding,
 * and processing jobs, with their context carried in the job's options. Spread into the options:
 * `{ ...bullmqTelemetry() }`. Tracing off: nothing (BullMQ then skips all of it).
 *
 * The consumers' and saga steps' own spans take their parent from the event headers / job data
 * (the request that committed the change), not from BullMQ's producer span (a relay round).
 */
export function bullmqTelemetry(): { telemetry?: BullMQOtel } {
  return tracingEnabled() ? { telemetry: new BullMQOtel({ tracerName: `${TRACER_NAME}.bullmq` }) } : {};
}
