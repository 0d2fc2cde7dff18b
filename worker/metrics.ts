import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Seconds from a commit to its event in the queue, or consumed: ms when all is well, minutes in an outage. */
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];
/** Seconds of one consumer's or saga step's work (a checksum of a big file, a thumbnail). */
const WORK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Saga statuses after which nothing runs on its own: counted once when a step's finish reaches one. */
const FINISHED_SAGA_STATUSES = new Set(["completed", "compensated", "failed", "aborted"]);

/**
 * The worker's own metrics, observed where the work happens (relay, consumers, saga steps,
 * heartbeat) and served at the worker's /metrics. They are this process's counts since it started
 * (Prometheus sums the workers and handles restarts with rate()); the database-derived state
 * (backlog, statuses) stays with the web's /api/metrics. Labels are bounded sets (event types,
 * consumer names, saga types and step names from the code's registries), never ids.
 */
export function createWorkerMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "metastore_worker_" });
  const relayLag = new Histogram({
    name: "metastore_outbox_relay_lag_seconds",
    help: "From an outbox event's commit (its created_at, in the writing transaction) to its job being in the queue, by event type",
    labelNames: ["event_type"],
    buckets: LAG_BUCKETS,
    registers: [registry],
  });
  const publishFailures = new Counter({
    name: "metastore_outbox_publish_failures_total",
    help: "Outbox events whose publish attempt failed (retried with backoff, then dead), by event type",
    labelNames: ["event_type"],
    registers: [registry],
  });
  const endToEndLag = new Histogram({
    name: "metastore_outbox_end_to_end_lag_seconds",
    help: "From an outbox event's commit to its consumed mark committing (every consumer done), by event type",
    labelNames: ["event_type"],
    buckets: LAG_BUCKETS,
    registers: [registry],
  });
  const consumerDuration = new Histogram({
    name: "metastore_outbox_consumer_duration_seconds",
    help: "One consumer's handling of one event (inbox check + effect + commit), by consumer and result (handled, duplicate, error)",
    labelNames: ["consumer", "result"],
    buckets: WORK_BUCKETS,
    registers: [registry],
  });
  const sagaStepDuration = new Histogram({
    name: "metastore_saga_step_duration_seconds",
    help: "One saga step job (claim, body, finish), by saga type, step, phase (execute, compensate) and result (advanced, retry, stale)",
    labelNames: ["saga_type", "step", "phase", "result"],
    buckets: WORK_BUCKETS,
    registers: [registry],
  });
  const sagasFinished = new Counter({
    name: "metastore_sagas_finished_total",
    help: "Sagas this worker brought to a final status (completed, compensated, failed, aborted), by saga type",
    labelNames: ["saga_type", "status"],
    registers: [registry],
  });
  const heartbeat = new Gauge({
    name: "metastore_worker_heartbeat_timestamp_seconds",
    help: "When this worker process last ran the heartbeat job (Unix seconds; 0 until it has run one)",
    registers: [registry],
  });
  heartbeat.set(0);

  const secondsSince = (at: Date | string, now: number) => Math.max(0, (now - new Date(at).getTime()) / 1000);

  return {
    registry,
    /** The relay's publish of these events was accepted by Redis. */
    published(events: ReadonlyArray<{ eventType: string; createdAt: Date }>) {
      const now = Date.now();
      for (const e of events) relayLag.observe({ event_type: e.eventType }, secondsSince(e.createdAt, now));
    },
    publishFailed(eventType: string) {
      publishFailures.inc({ event_type: eventType });
    },
    /** The event's consumed mark committed. */
    consumed(eventType: string, createdAt: string) {
      endToEndLag.observe({ event_type: eventType }, secondsSince(createdAt, Date.now()));
    },
    consumerRan(consumer: string, result: "handled" | "duplicate" | "error", seconds: number) {
      consumerDuration.observe({ consumer, result }, seconds);
    },
    sagaStepRan(labels: { sagaType: string; step: string; phase: string; result: "advanced" | "retry" | "stale" }, seconds: number, status?: string) {
      sagaStepDuration.observe({ saga_type: labels.sagaType, step: labels.step, phase: labels.phase, result: labels.result }, seconds);
      if (status && FINISHED_SAGA_STATUSES.has(status)) sagasFinished.inc({ saga_type: labels.sagaType, status });
    },
    heartbeat(at: Date) {
      heartbeat.set(at.getTime() / 1000);
    },
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
