import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { createIdempotencyMetrics, IDEMPOTENCY_COUNTERS } from "../reliability/idempotency/metrics";
import { countRecordsByState } from "../reliability/idempotency/queries";
import { blockedAggregates, outboxStats } from "../reliability/outbox/queries";
import { reconcileReasons, reconcileTotals } from "../reliability/outbox/reconcile-store";
import { workerHeartbeatKey } from "../contracts/queues";
import type { SignInThrottle } from "../auth/sign-in-throttle";
import type { Db } from "../platform/db/client";
import type { RedisClient } from "../platform/redis";
import type { QueryCache } from "../reliability/cache/query-cache";
import type { SagaService } from "../reliability/saga/saga-service";
import type { RequestMetrics } from "./request-metrics";

/** What the registry reads at scrape time: the web process's services provide it. */
export interface MetricsSources {
  db: Db;
  redis: RedisClient;
  cache?: Pick<QueryCache, "stats">;
  sagas: Pick<SagaService, "metrics">;
  signInThrottle: Pick<SignInThrottle, "throttledTotal">;
  requestMetrics?: RequestMetrics;
  config: { queuePrefix: string; outboxStalledAfterMs?: number };
}

/**
 * The metrics the original design said to watch, for Prometheus: read from PostgreSQL (the source
 * of truth) and from the cross-process counters in Redis at scrape time, so every web process
 * reports the same numbers. Cumulative counters kept in Redis are exposed as gauges: their value is
 * a total across processes, not this process's own count. Request durations are this process's own
 * histograms (services.requestMetrics); the worker serves its own at its /metrics (worker/metrics.ts).
 */
export function createMetricsRegistry(services: MetricsSources): Registry {
  const registry = new Registry();
  const idempotencyMetrics = createIdempotencyMetrics(services.redis, services.config.queuePrefix);
  collectDefaultMetrics({ register: registry, prefix: "metastore_web_" });
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void>) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        await collect(this);
      },
    });

  // One read of each source per scrape, shared by the gauges that show parts of it.
  let scrape: Promise<Awaited<ReturnType<typeof readAll>>> | null = null;
  const readAll = async () => {
    const stalledAfterMs = services.config.outboxStalledAfterMs;
    const [outbox, blocked, reconciled, sagas, idempotencyCounters, idempotencyRecords, cache, heartbeat] = await Promise.all([
      outboxStats(services.db, { windowMinutes: 5, stalledAfterMs }),
      blockedAggregates(services.db, { limit: 1000, stalledAfterMs }),
      reconcileTotals(services.db),
      services.sagas.metrics({}),
      idempotencyMetrics.read(),
      countRecordsByState(services.db),
      services.cache?.stats() ?? null,
      // Redis down: no heartbeat to show, which the alert reads as "none" (as /healthz would).
      services.redis.get(workerHeartbeatKey(services.config.queuePrefix)).catch(() => null),
    ]);
    return { outbox, blocked, reconciled, sagas, idempotencyCounters, idempotencyRecords, cache, heartbeat };
  };
  const data = () => {
    scrape ??= readAll().finally(() => setTimeout(() => (scrape = null), 0));
    return scrape;
  };

  gauge("metastore_outbox_events", "Outbox events by status", ["status"], async (g) => {
    for (const [status, n] of Object.entries((await data()).outbox.counts)) g.set({ status }, n);
  });
  gauge("metastore_outbox_oldest_due_age_seconds", "Age of the oldest pending or failed outbox event (0 when none)", [], async (g) => {
    g.set(((await data()).outbox.oldestDueAgeMs ?? 0) / 1000);
  });
  gauge("metastore_outbox_publish_rate_per_minute", "Events published per minute over the last 5 minutes", [], async (g) => {
    g.set((await data()).outbox.publishedPerMinute);
  });
  gauge("metastore_outbox_failure_rate_per_minute", "Publish or consumer failures per minute over the last 5 minutes", [], async (g) => {
    g.set((await data()).outbox.failedPerMinute);
  });
  gauge("metastore_outbox_blocked_aggregates", "Aggregates whose next event waits behind an unconsumed earlier one", [], async (g) => {
    g.set((await data()).blocked.length);
  });
  gauge("metastore_outbox_stalled_events", "Events published longer than OUTBOX_STALLED_AFTER_MS ago and still not consumed", [], async (g) => {
    g.set((await data()).outbox.counts.stalled);
  });
  // A real counter (it only grows), kept in PostgreSQL by the reconcilers of every worker: each
  // scrape sets it to the durable total, so it survives worker and Redis restarts alike.
  new Counter({
    name: "metastore_outbox_reconciled_total",
    help: "Stalled outbox events the reconciler sent again, by why their job was gone",
    labelNames: ["reason"],
    registers: [registry],
    async collect() {
      const totals = (await data()).reconciled;
      this.reset();
      for (const reason of reconcileReasons) this.inc({ reason }, totals[reason]);
    },
  });
  gauge("metastore_sagas", "Saga instances by status", ["status"], async (g) => {
    for (const [status, n] of Object.entries((await data()).sagas.byStatus)) g.set({ status }, n);
  });
  gauge("metastore_saga_success_ratio", "Finished sagas that completed / all finished", [], async (g) => {
    g.set((await data()).sagas.successRate ?? 0);
  });
  gauge("metastore_saga_compensation_ratio", "Finished sagas that were compensated or aborted / all finished", [], async (g) => {
    g.set((await data()).sagas.compensationRate ?? 0);
  });
  gauge("metastore_saga_avg_steps", "Execute steps run per finished saga", [], async (g) => {
    g.set((await data()).sagas.avgSteps ?? 0);
  });
  // Percentiles computed in PostgreSQL: a gauge labelled `percentile` ("quantile" is reserved for summaries).
  gauge("metastore_saga_duration_seconds", "Duration of finished sagas, p50 and p95", ["percentile"], async (g) => {
    const { durationMs } = (await data()).sagas;
    g.set({ percentile: "50" }, (durationMs.p50 ?? 0) / 1000);
    g.set({ percentile: "95" }, (durationMs.p95 ?? 0) / 1000);
  });
  gauge("metastore_idempotency_requests", "Idempotency-Key outcomes, cumulative across processes", ["outcome"], async (g) => {
    const { total } = (await data()).idempotencyCounters;
    for (const outcome of IDEMPOTENCY_COUNTERS) g.set({ outcome }, total[outcome]);
  });
  gauge("metastore_idempotency_records", "Idempotency-Key records by state", ["state"], async (g) => {
    for (const [state, n] of Object.entries((await data()).idempotencyRecords)) if (typeof n === "number" && state !== "total") g.set({ state }, n);
  });
  gauge("metastore_cache_calls", "Query-cache calls by prefix and result, cumulative across processes", ["prefix", "result"], async (g) => {
    const cache = (await data()).cache;
    for (const p of cache?.prefixes ?? []) {
      for (const result of ["hits", "stale", "coalesced", "waited", "misses", "bypassed"] as const) g.set({ prefix: p.prefix, result }, p[result]);
    }
  });
  gauge("metastore_cache_keys", "Query-cache entries stored, by prefix", ["prefix"], async (g) => {
    for (const p of (await data()).cache?.prefixes ?? []) g.set({ prefix: p.prefix }, p.keys);
  });
  // This process's own count (Prometheus sums the web processes): the throttle keeps no Redis counter,
  // as it must keep counting while Redis is down.
  new Counter({
    name: "metastore_signin_throttled_total",
    help: "Sign-in attempts refused by the failed-sign-in throttle (per account or per client address)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(services.signInThrottle.throttledTotal());
    },
  });
  // The shared heartbeat in Redis, seen from the web: it outlives a dead worker (whose own /metrics
  // would simply vanish), so "no worker heartbeat" can be alerted on from here.
  gauge("metastore_worker_last_heartbeat_timestamp_seconds", "When any worker last ran the heartbeat job (Unix seconds; 0 when Redis has none)", [], async (g) => {
    const at = (await data()).heartbeat;
    g.set(at ? Date.parse(at) / 1000 : 0);
  });
  // This process's request histograms, counted as requests are handled (not read from a store).
  return services.requestMetrics ? Registry.merge([registry, services.requestMetrics.registry]) : registry;
}
