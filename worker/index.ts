/**
 * The MetaStore worker: its own always-on process (never inside Next.js request handlers).
 * Parses the same environment as the web app, connects to PostgreSQL and Redis, registers the
 * BullMQ processors, serves GET /healthz and GET /metrics (its own counters and histograms), and
 * shuts down in order on SIGINT/SIGTERM:
 * stop taking jobs → close workers → close the query cache → close Redis → close Prisma.
 * Its services come from the same composition root as the web app's (src/server/composition.ts).
 */
import "~/load-dotenv";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { getEnv } from "~/env.js";
import { assertProductionReady } from "~/production-checks.js";
import { composeServices, settingsFromEnv } from "~/server/composition";
import { sessionDatabaseUrl } from "~/server/platform/db/client";
import { tagsForFileChange } from "~/server/features/files/cache-tags";
import { appSagaRegistry } from "~/server/app-sagas";
import { checkEvictionPolicy } from "~/server/platform/redis-eviction";
import { bullmqConnection, queuePrefix } from "~/server/platform/redis";
import { moveLegacyQueueJobs } from "./legacy-queue-keys";
import { createCacheInvalidator, defaultConsumers } from "./jobs/consumer-registry";
import { startHeartbeat } from "./jobs/scheduled/heartbeat";
import { startIdempotencyCleanup } from "./jobs/scheduled/idempotency-cleanup";
import { startOrphanBlobSweep } from "./jobs/scheduled/orphan-blob-sweep";
import { startOutboxConsumers } from "./jobs/outbox-consumers";
import { startOutboxReconciler } from "./jobs/outbox-reconciler";
import { startOutboxRelay } from "./jobs/outbox-relay";
import { startOutboxRetention } from "./jobs/scheduled/outbox-retention";
import { startSagaRunner } from "./jobs/saga-runner";
import { createWorkerMetrics } from "./metrics";
import { startMetricsServer } from "./metrics-server";
import { startBulkOperations } from "./jobs/bulk-operations";
import { startTelemetryFromEnv } from "~/server/platform/telemetry/sdk";
import { createInFlightTracker } from "./jobs/in-flight";
import { waitForDependency } from "./wait-for-dependency";

async function main() {
  const env = getEnv();
  assertProductionReady(env);
  // Before anything opens a connection: the pg and ioredis instrumentations patch the drivers.
  const telemetry = startTelemetryFromEnv("metastore-worker");
  const settings = settingsFromEnv(env, "worker");
  const composed = composeServices(settings);
  const { db, redis, storage, cache, logger } = composed.services;
  // PostgreSQL or Redis down at start (a host booting, a failover): wait for each, saying so, and
  // start once both answer; nothing is registered before.
  await waitForDependency("PostgreSQL", () => db.$queryRaw`SELECT 1`, logger);
  // One Redis or a Redis Cluster (REDIS_CLUSTER_NODES): BullMQ builds its own clients from the same target.
  const connection = bullmqConnection(settings.redisTarget);
  redis.on("error", () => {}); // connection errors while waiting are the probe's to report; ioredis reconnects
  await waitForDependency("Redis", () => redis.ping(), logger);
  // BullMQ needs a Redis that never evicts: say so at start if this one would (see redis-eviction.ts).
  const eviction = await checkEvictionPolicy(redis).catch(() => null);
  if (eviction && !eviction.ok) logger.warn({ redisEvictionPolicy: eviction.policy }, eviction.warning);
  // The worker changes file rows outside any request (consumers, sagas): it invalidates the query
  // cache itself. composed.close() closes it after every component that uses it (it flushes its counters).
  // BullMQ's prefix (hash-tagged on a cluster); the cache keeps the plain app prefix, like the web app.
  const common = { db, connection, prefix: queuePrefix(env.QUEUE_PREFIX, settings.redisTarget), logger };
  // A cluster deployment upgraded from one hash tag for every queue: jobs the old version queued
  // move to their queue's own keys before anything consumes (worker/legacy-queue-keys.ts). If that
  // fails, the start goes on: the reconciler and the sweepers re-send what PostgreSQL says is due.
  await moveLegacyQueueJobs({ connection, prefix: common.prefix, logger }).catch((err: unknown) =>
    logger.error({ err }, "could not move jobs queued under the old shared hash tag; PostgreSQL-driven re-sends will cover them"),
  );
  // LISTEN and named prepared statements need a session: never through a transaction pooler.
  const sessionUrl = sessionDatabaseUrl(env);
  // Observed where the work happens (relay, consumers, saga steps, heartbeat), served at /metrics.
  const metrics = createWorkerMetrics();

  // Started in this order; shutdown runs in reverse (the relay stops publishing before consumers stop).
  const components: Array<{ name: string; close(): Promise<void> }> = [];
  const inFlight = createInFlightTracker();
  const heartbeat = await startHeartbeat({
    ...common,
    redis,
    onBeat: metrics.heartbeat,
    fleet: {
      version: appVersion(),
      components: () => components.map((c) => c.name),
      concurrency: { "outbox-consumers": env.OUTBOX_CONSUMER_CONCURRENCY, "saga-runner": env.SAGA_CONCURRENCY },
      jobsInFlight: inFlight.count,
    },
  });
  components.push({ name: "heartbeat", close: heartbeat.close });
  const idempotencyCleanup = await startIdempotencyCleanup({ ...common, everyMs: env.IDEMPOTENCY_CLEANUP_EVERY_MINUTES * 60_000 });
  components.push({ name: "idempotency-cleanup", close: idempotencyCleanup.close });
  const orphanBlobSweep = await startOrphanBlobSweep({
    ...common,
    storage,
    everyMs: env.STORAGE_GC_EVERY_MINUTES * 60_000,
    graceMs: env.STORAGE_GC_GRACE_MINUTES * 60_000,
  });
  components.push({ name: "orphan-blob-sweep", close: orphanBlobSweep.close });
  // Consumers of one event run in this order, each committing before the next: the cache
  // invalidator comes last so it also drops entries read before the file inspector's update.
  const outboxConsumers = await startOutboxConsumers({
    ...common,
    storage,
    consumers: [...defaultConsumers, ...(cache ? [createCacheInvalidator(cache)] : [])],
    metrics,
    options: { concurrency: env.OUTBOX_CONSUMER_CONCURRENCY },
  });
  inFlight.track(outboxConsumers.worker);
  components.push({ name: "outbox-consumers", close: outboxConsumers.close });
  const outboxRelay = await startOutboxRelay({
    ...common,
    databaseUrl: sessionUrl,
    metrics,
    options: { pollIntervalMs: env.OUTBOX_POLL_INTERVAL_MS, batchSize: env.OUTBOX_BATCH_SIZE, leaseMs: env.OUTBOX_LEASE_MS },
  });
  components.push({ name: "outbox-relay", close: outboxRelay.close });
  // Sends again in-flight events whose BullMQ job Redis lost: a timer, so it outlives a Redis wipe.
  const outboxReconciler = await startOutboxReconciler({
    ...common,
    options: { stalledAfterMs: env.OUTBOX_STALLED_AFTER_MS, everyMs: env.OUTBOX_RECONCILE_EVERY_MS },
  });
  components.push({ name: "outbox-reconciler", close: outboxReconciler.close });
  const outboxRetention = await startOutboxRetention({
    ...common,
    options: { retentionMs: env.OUTBOX_RETENTION_HOURS * 3_600_000, everyMs: 10 * 60_000, batchSize: 5000 },
  });
  components.push({ name: "outbox-retention", close: outboxRetention.close });
  const sagaRegistry = appSagaRegistry({
    db,
    storage,
    outbox: { maxPayloadBytes: env.OUTBOX_MAX_PAYLOAD_BYTES },
    onFileChanged: cache ? async (file) => void (await cache.invalidate(tagsForFileChange(file))) : undefined,
  });
  const sagaRunner = await startSagaRunner({
    ...common,
    databaseUrl: sessionUrl,
    registry: sagaRegistry,
    concurrency: env.SAGA_CONCURRENCY,
    sweepEveryMs: env.SAGA_SWEEP_EVERY_MS,
    stuckAfterMs: env.SAGA_STUCK_AFTER_MS,
    metrics,
  });
  inFlight.track(sagaRunner.worker);
  components.push({ name: "saga-runner", close: sagaRunner.close });
  // Bulk operator actions by filter, batch by batch; progress and resumption live in PostgreSQL.
  const bulkOperations = await startBulkOperations({ ...common, sagaRegistry });
  components.push({ name: "bulk-operations", close: bulkOperations.close });

  const health = createServer(async (req, res) => {
    if (req.url !== "/healthz") return void res.writeHead(404).end();
    const last = await redis.get(heartbeat.key).catch(() => null);
    const fresh = last !== null && Date.now() - Date.parse(last) < 30_000;
    const policy = await checkEvictionPolicy(redis).catch(() => null);
    res.writeHead(fresh ? 200 : 503, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        status: fresh ? "ok" : "stale",
        instanceId: heartbeat.instanceId,
        lastHeartbeat: last,
        components: components.map((c) => c.name),
        redisEvictionPolicy: policy?.policy ?? null,
        warnings: policy?.warning ? [policy.warning] : [],
      }),
    );
  });
  if (env.WORKER_HEALTH_PORT > 0) health.listen(env.WORKER_HEALTH_PORT, "127.0.0.1");
  // A metrics port already taken (a second worker on the host) costs the metrics, not the work:
  // logged as an error (the scrape target shows as down), while jobs keep running.
  const metricsServer =
    env.WORKER_METRICS_PORT > 0
      ? await startMetricsServer({ registry: metrics.registry, port: env.WORKER_METRICS_PORT, host: env.WORKER_METRICS_HOST }).catch((err: unknown) => {
          logger.error({ err, port: env.WORKER_METRICS_PORT }, "worker /metrics could not listen; running without it");
          return null;
        })
      : null;

  logger.info(
    {
      prefix: env.QUEUE_PREFIX,
      components: components.map((c) => c.name),
      redisEvictionPolicy: eviction?.policy ?? null,
      tracing: telemetry !== null,
      metrics: metricsServer ? `http://${env.WORKER_METRICS_HOST}:${metricsServer.port}/metrics` : null,
    },
    "worker started",
  );

  let stopping = false;
  async function shutdown(signal: string) {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "worker shutting down");
    const timer = setTimeout(() => {
      logger.error("shutdown took over 20 s; exiting");
      process.exit(1);
    }, 20_000);
    timer.unref();
    health.close();
    await metricsServer?.close();
    for (const component of components.reverse()) {
      await component.close().catch((err) => logger.error({ err, component: component.name }, "close failed"));
    }
    await composed.close().catch((err) => logger.error({ err }, "closing the services failed")); // cache, Redis, PostgreSQL
    // Spans still buffered go out before the process ends.
    await telemetry?.shutdown().catch((err: unknown) => logger.warn({ err }, "trace export at shutdown failed"));
    logger.info("worker stopped");
    process.exit(0);
  }
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

/** The version this process runs, as the fleet view shows it (package.json's, read at start). */
function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "..", "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
