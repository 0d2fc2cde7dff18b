/**
 * Issue 9, defect 1: events stuck forever after Redis lost their jobs. Real PostgreSQL, a private
 * redis-server that the tests stop, restart empty and FLUSHALL, the real relay, consumers and
 * reconciler. Deadlines are short here (stalled after 1 s, a round every 200 ms).
 */
import { randomUUID } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countStalledEvents, reconcileTotals } from "~/server/reliability/outbox/reconcile-store";
import { QueueName } from "~/server/contracts/queues";
import { bullmqConnection } from "~/server/platform/redis";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { startOutboxConsumers } from "./outbox-consumers";
import { startOutboxReconciler } from "./outbox-reconciler";
import { appendTagged, recordingConsumer, silent, startRelay, waitFor } from "~test/fixtures/outbox.test-support";

const STALLED_AFTER_MS = 1000;

let app: TestApp;
let redis: PrivateRedis;
let connection: ReturnType<typeof bullmqConnection>;
beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
  redis = await startPrivateRedis();
  connection = bullmqConnection(redis.url);
});
afterAll(async () => {
  await redis?.close();
  await app?.close();
});

const db = () => app.services.db;

function startConsumersOnPrivateRedis(consumers: Parameters<typeof startOutboxConsumers>[0]["consumers"]) {
  return startOutboxConsumers({ db: db(), connection, prefix: app.queuePrefix, logger: silent, storage: app.services.storage, consumers, options: { concurrency: 8 } });
}

function startReconciler(everyMs = 200) {
  return startOutboxReconciler({ db: db(), connection, prefix: app.queuePrefix, logger: silent, options: { stalledAfterMs: STALLED_AFTER_MS, everyMs } });
}

/** Two events for each of `n` new aggregates; the relay publishes each aggregate's first one. */
async function inFlightAggregates(n: number) {
  const ids = Array.from({ length: n }, () => randomUUID());
  for (const id of ids) await appendTagged(db(), id, ["a"]);
  for (const id of ids) await appendTagged(db(), id, ["b"]);
  return ids;
}

async function consumedCount(aggregateIds: string[]) {
  return db().outboxEvent.count({ where: { aggregateId: { in: aggregateIds }, consumedAt: { not: null } } });
}

describe("outbox events whose BullMQ jobs Redis lost", () => {
  it("Redis restarted empty: every stalled event is sent again and consumed, in order, once; stalled count and metric show it", async () => {
    const recorder = recordingConsumer();
    const relay = await startRelay(app, { pollIntervalMs: 100 }, connection);
    const aggregates = await inFlightAggregates(6);
    // Each aggregate's first event is published (its job waits in Redis: no consumer runs yet);
    // the second waits behind it in PostgreSQL (per-aggregate order).
    await waitFor("first events published", async () => (await db().outboxEvent.count({ where: { aggregateId: { in: aggregates }, status: "published" } })) === 6);

    // Redis loses everything (no persistence), as `npm run dev`'s Redis does on a restart.
    await redis.stop();
    await redis.restart();

    // The defect: a healthy worker, and nothing moves. Nothing in Redis says these events exist.
    const consumers = await startConsumersOnPrivateRedis([recorder.consumer]);
    await waitFor("the published events to be stalled", async () => (await countStalledEvents(db(), { stalledAfterMs: STALLED_AFTER_MS })) === 6, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await consumedCount(aggregates)).toBe(0);

    const reconciler = await startReconciler();
    try {
      await waitFor("all 12 events consumed", async () => (await consumedCount(aggregates)) === 12, 20_000);
      for (const id of aggregates) expect(recorder.seen.get(id)).toEqual([1, 2]);
      expect(reconciler.stats.byReason.job_missing).toBeGreaterThanOrEqual(6);
      expect((await reconcileTotals(db())).job_missing).toBeGreaterThanOrEqual(6);
      const sent = await db().outboxEvent.findMany({ where: { aggregateId: { in: aggregates }, aggregateSeq: 1 }, select: { lastError: true, attempts: true } });
      for (const e of sent) {
        expect(e.lastError).toMatch(/^reconciler: sent again \(job_missing\)/);
        expect(e.attempts).toBe(0); // losing a job is not the event's fault
      }
      expect(await countStalledEvents(db(), { stalledAfterMs: STALLED_AFTER_MS })).toBe(0);
    } finally {
      await reconciler.close();
      await consumers.close();
      await relay.close();
    }
  });

  it("FLUSHALL with a healthy worker: the reconciler recovers the lost jobs; live jobs of slow consumers are left alone", async () => {
    let gate = true;
    const slowIds = new Set<string>();
    const recorder = recordingConsumer();
    const gated = {
      ...recorder.consumer,
      async handle(event: Parameters<typeof recorder.consumer.handle>[0], ctx: Parameters<typeof recorder.consumer.handle>[1]) {
        // Events of "slow" aggregates wait (their jobs are live, active) until the gate opens.
        while (gate && slowIds.has(event.aggregateId)) await new Promise((r) => setTimeout(r, 20));
        return recorder.consumer.handle(event, ctx);
      },
      batchable: false,
    };
    const relay = await startRelay(app, { pollIntervalMs: 100 }, connection);
    const consumers = await startConsumersOnPrivateRedis([gated]);
    const reconciler = await startReconciler(60_000); // rounds run by hand below
    const queue = new Queue(QueueName.outboxEvents, { connection, prefix: app.queuePrefix });
    try {
      // Slow aggregates: published, their jobs active (held by the gate) for longer than the deadline.
      const slow = await inFlightAggregates(2);
      for (const id of slow) slowIds.add(id);
      await waitFor("slow events active", async () => (await queue.getActiveCount()) >= 2);
      await new Promise((r) => setTimeout(r, STALLED_AFTER_MS + 200));
      expect(await reconciler.round()).toEqual([]); // live jobs: not stalled, only slow

      // Now Redis is wiped under a running worker, with jobs waiting that no consumer took yet.
      await consumers.worker.pause(true);
      const lost = await inFlightAggregates(4);
      await waitFor("lost events published", async () => (await db().outboxEvent.count({ where: { aggregateId: { in: lost }, aggregateSeq: 1, status: "published" } })) === 4);
      await redis.client().flushall();
      consumers.worker.resume();
      gate = false;
      await new Promise((r) => setTimeout(r, STALLED_AFTER_MS + 100));
      const requeued = await waitFor("a round that sends the lost events again", async () => {
        const r = await reconciler.round();
        return r.length > 0 ? r : false;
      }, 10_000);
      expect(requeued.map((r) => r.reason)).toEqual(expect.arrayContaining(["job_missing"]));
      await waitFor("all events consumed", async () => (await consumedCount([...slow, ...lost])) === 12, 20_000);
      for (const id of [...slow, ...lost]) expect(recorder.seen.get(id)).toEqual([1, 2]);
    } finally {
      gate = false;
      await queue.close();
      await reconciler.close();
      await consumers.close();
      await relay.close();
    }
  });

  it("a job that finished without consuming its event (failed, or completed elsewhere) is removed and the event sent again", async () => {
    const relay = await startRelay(app, { pollIntervalMs: 100 }, connection);
    const queue = new Queue(QueueName.outboxEvents, { connection, prefix: app.queuePrefix });
    const [failedAgg, completedAgg] = await inFlightAggregates(2);
    const first = async (aggregateId: string) => db().outboxEvent.findFirstOrThrow({ where: { aggregateId, aggregateSeq: 1 } });
    await waitFor("first events published", async () => (await db().outboxEvent.count({ where: { aggregateId: { in: [failedAgg!, completedAgg!] }, status: "published" } })) === 2);
    const failedId = (await first(failedAgg!)).id;
    const completedId = (await first(completedAgg!)).id;
    // The relay's jobs are removed when they fail: put a kept, single-attempt copy in the failed one's place.
    const relayJob = (await queue.getJob(failedId))!;
    await relayJob.remove();
    await queue.add(relayJob.name, relayJob.data, { jobId: failedId, attempts: 1, removeOnFail: false });
    // A foreign worker takes both jobs and ends them without consuming (what a worker of another
    // build, or one whose final write was lost, leaves behind): one failed, one completed, both kept.
    const foreign = new Worker(
      QueueName.outboxEvents,
      async (job) => {
        if (job.data.aggregateId === failedAgg) throw new Error("foreign failure");
      },
      { connection, prefix: app.queuePrefix },
    );
    await waitFor("jobs finished", async () => (await queue.getJobState(failedId)) === "failed" && (await queue.getJobState(completedId)) === "completed");
    await foreign.close();

    const recorder = recordingConsumer();
    const consumers = await startConsumersOnPrivateRedis([recorder.consumer]);
    const before = await reconcileTotals(db());
    const reconciler = await startReconciler();
    try {
      await waitFor("all 4 events consumed", async () => (await consumedCount([failedAgg!, completedAgg!])) === 4, 20_000);
      expect(recorder.seen.get(failedAgg!)).toEqual([1, 2]);
      expect(recorder.seen.get(completedAgg!)).toEqual([1, 2]);
      const after = await reconcileTotals(db());
      expect(after.job_failed - before.job_failed).toBe(1);
      expect(after.job_completed - before.job_completed).toBe(1);
    } finally {
      await reconciler.close();
      await consumers.close();
      await relay.close();
      await queue.close();
    }
  });
});
