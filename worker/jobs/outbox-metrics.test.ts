/**
 * The worker's outbox metrics under faults: a broker that refuses one publish and a consumer that
 * throws once. The failures are counted (publish failures, a consumer run with result "error"),
 * and each event is still observed exactly once as enqueued and once as consumed, when it finally
 * is. Real PostgreSQL, Redis and BullMQ; the metrics are read from the worker registry's text.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { parseSamples, sumOf } from "~test/support/prometheus-text";
import { createWorkerMetrics } from "../metrics";
import { startOutboxConsumers } from "./outbox-consumers";
import { startOutboxRelay } from "./outbox-relay";
import { appendTagged, silent, waitFor } from "~test/fixtures/outbox.test-support";
import type { EventConsumer } from "./consumer-registry";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
});
afterAll(() => app.close());

describe("worker outbox metrics", () => {
  it("count a refused publish and a failing consumer run, and observe each event's lags once it gets through", async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const refusedOnce = new Set<string>();
    const failedOnce = new Set<string>();
    const flaky: EventConsumer = {
      name: "flaky-consumer",
      handles: ["file.tagged"],
      async handle(event) {
        if (event.payload && (event.payload as { tags: string[] }).tags.includes("fail-once") && !failedOnce.has(event.id)) {
          failedOnce.add(event.id);
          throw new Error("consumer fails its first run");
        }
      },
    };
    const consumers = await startOutboxConsumers({
      db: app.services.db,
      connection: app.bullConnection,
      prefix: app.prefix,
      logger: silent,
      storage: app.services.storage,
      consumers: [flaky],
      metrics,
      options: { concurrency: 4 },
    });
    const relay = await startOutboxRelay({
      db: app.services.db,
      databaseUrl: app.databaseUrl,
      connection: app.bullConnection,
      prefix: app.prefix,
      logger: silent,
      metrics,
      // A broker that refuses each "refuse-once" event the first time it is offered alone.
      publisher: async (queue, jobs) => {
        for (const job of jobs) {
          const tags = (job.data.payload as { tags: string[] }).tags;
          if (tags.includes("refuse-once") && !refusedOnce.has(job.data.id)) {
            if (jobs.length === 1) refusedOnce.add(job.data.id);
            throw new Error("broker refused");
          }
        }
        await queue.addBulk(jobs);
      },
      options: {
        pollIntervalMs: 50,
        batchSize: 50,
        leaseMs: 5000,
        retry: { baseMs: 50, maxMs: 200, jitter: 0.2 },
        consumerJob: { attempts: 3, backoffMs: 20 },
      },
    });
    try {
      const events = [
        await appendTagged(app.services.db, randomUUID(), ["ok"]),
        await appendTagged(app.services.db, randomUUID(), ["refuse-once"]),
        await appendTagged(app.services.db, randomUUID(), ["fail-once"]),
      ];
      const ids = events.map((e) => e.id);
      await waitFor("every event consumed", async () => (await app.services.db.outboxEvent.count({ where: { id: { in: ids }, consumedAt: { not: null } } })) === 3, 20_000);
      const samples = await waitFor("the last consumed event observed", async () => {
        const s = parseSamples(await metrics.registry.metrics());
        return sumOf(s, "metastore_outbox_end_to_end_lag_seconds_count") === 3 ? s : false;
      });

      expect(sumOf(samples, "metastore_outbox_publish_failures_total", { event_type: "file.tagged" })).toBe(1);
      // Enqueued once each: the refused event counts when its retry got through, not before.
      expect(sumOf(samples, "metastore_outbox_relay_lag_seconds_count", { event_type: "file.tagged" })).toBe(3);
      expect(sumOf(samples, "metastore_outbox_consumer_duration_seconds_count", { consumer: "flaky-consumer", result: "error" })).toBe(1);
      expect(sumOf(samples, "metastore_outbox_consumer_duration_seconds_count", { consumer: "flaky-consumer", result: "handled" })).toBe(3);
      expect(sumOf(samples, "metastore_outbox_end_to_end_lag_seconds_count", { event_type: "file.tagged" })).toBe(3);
      // The refused event waited out a publish backoff: the worst relay lag is at least that long.
      const refused = await app.services.db.outboxEvent.findUniqueOrThrow({ where: { id: events[1]!.id } });
      expect(refused.attempts).toBe(1);
      expect(sumOf(samples, "metastore_outbox_relay_lag_seconds_sum")).toBeGreaterThanOrEqual(0.04);
    } finally {
      await relay.close();
      await consumers.close();
    }
  });
});
