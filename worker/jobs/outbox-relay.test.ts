import { asTestOperator } from "~test/support/audit";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discardEvent, retryEvent } from "~/server/reliability/outbox/operations";
import { blockedAggregates } from "~/server/reliability/outbox/queries";
import { retryDelayMs } from "~/server/reliability/outbox/backoff";
import { bullmqConnection } from "~/server/platform/redis";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis } from "~test/support/redis-server";
import { appendTagged, outboxQueue, recordingConsumer, startConsumers, startRelay, waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

const db = () => app.services.db;

describe("retry delays", () => {
  it("grow exponentially, stay within their jitter window and are capped", () => {
    const policy = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(retryDelayMs(50, policy, () => 1)).toBe(1000);
  });
});

describe("outbox relay", () => {
  it("publishes a committed event right after commit through NOTIFY, without waiting for the poll", async () => {
    const relay = await startRelay(app, { pollIntervalMs: 60_000 });
    const queue = outboxQueue(app);
    try {
      await waitFor("the relay to LISTEN", async () => relay.listening);
      const fileId = randomUUID();
      const { id } = await appendTagged(db(), fileId, ["a"]);
      // The poll is a minute away: only the notification can make this happen within seconds.
      await waitFor("the event to be published", async () => (await db().outboxEvent.findUnique({ where: { id } }))?.status === "published", 5000);
      const job = await queue.getJob(id);
      expect(job?.data).toMatchObject({ id, type: "file.tagged", aggregateId: fileId, aggregateSeq: 1, payload: { fileId, tags: ["a"] } });
    } finally {
      await relay.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it("re-LISTENs after its notification connection is killed, and catches up on what committed meanwhile", async () => {
    const relay = await startRelay(app, { pollIntervalMs: 60_000 });
    try {
      await waitFor("the relay to LISTEN", async () => relay.listening);
      const killed = await db().$queryRaw<Array<{ ok: boolean }>>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE application_name = 'metastore-outbox-listener' AND datname = current_database()`;
      expect(killed).toEqual([{ ok: true }]);
      await waitFor("the relay to notice", async () => !relay.listening, 5000);
      // Committed while nobody listens: the reconnect's catch-up wake-up publishes it (the poll is a minute away).
      const { id } = await appendTagged(db(), randomUUID());
      expect(relay.listening).toBe(false); // (the reconnect waits ≥ 500 ms)
      await waitFor("the event published after the reconnect", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id } })).status === "published", 10_000);
      // Usually the reconnect's catch-up published it; on a loaded machine a relay cycle still due
      // from before the kill may have got there first. Either way the relay must LISTEN again.
      await waitFor("the relay to LISTEN again", async () => relay.listening, 10_000);
    } finally {
      await relay.close();
    }
  });

  it("releases an aggregate's next event as soon as the previous one is consumed (NOTIFY from the consumer, not the poll)", async () => {
    const recorder = recordingConsumer();
    const consumers = await startConsumers(app, [recorder.consumer]);
    const relay = await startRelay(app, { pollIntervalMs: 60_000 });
    try {
      await waitFor("the relay to LISTEN", async () => relay.listening);
      const fileId = randomUUID();
      for (let i = 0; i < 4; i++) await appendTagged(db(), fileId, [`v${i}`]);
      // Only the first is published at commit; each next one needs the consumed notification.
      await waitFor("all four delivered in order", async () => recorder.seen.get(fileId)?.length === 4, 5000);
      expect(recorder.seen.get(fileId)).toEqual([1, 2, 3, 4]);
    } finally {
      await relay.close();
      await consumers.close();
    }
  });

  it("delivers each aggregate's events in commit order, each exactly once, with three concurrent relays", async () => {
    const recorder = recordingConsumer();
    const consumers = await startConsumers(app, [recorder.consumer], 16);
    const relays = await Promise.all([1, 2, 3].map(() => startRelay(app, { batchSize: 7 })));
    try {
      const aggregates = Array.from({ length: 25 }, () => randomUUID());
      const perAggregate = 8;
      // Writers run concurrently across aggregates (each aggregate's events one commit after another).
      await Promise.all(aggregates.map(async (fileId) => {
        for (let i = 0; i < perAggregate; i++) await appendTagged(db(), fileId, [`t${i}`]);
      }));
      const total = aggregates.length * perAggregate;
      await waitFor("every event to be consumed", async () => (await db().outboxEvent.count({ where: { consumedAt: { not: null } } })) >= total + 0 && recorder.total() >= total, 30_000);
      for (const fileId of aggregates) expect(recorder.seen.get(fileId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      // Exactly once downstream: BullMQ completed one job per event, never two.
      await waitFor("consumer stats", async () => consumers.stats.handled >= total);
      expect(consumers.stats.handled).toBe(total);
      await Promise.all(relays.map((r) => r.close()));
      // Each event marked published once: by the relay that claimed it, or (consumed before that
      // relay's deferred mark came due) by the consumers' consumed mark, which the relay's then skips.
      expect(relays.reduce((n, r) => n + r.stats.published + r.stats.markedElsewhere, 0)).toBe(total);
      const published = await db().outboxEvent.count({ where: { aggregateId: { in: aggregates }, status: "published" } });
      expect(published).toBe(total);
    } finally {
      await Promise.all(relays.map((r) => r.close()));
      await consumers.close();
    }
  });

  it("defers its published mark: an event consumed first costs no mark of its own; an unconsumed one is marked after the delay or at close", async () => {
    // A delay far beyond the test: only the consumed mark (or close) can mark these published.
    const recorder = recordingConsumer();
    const consumers = await startConsumers(app, [recorder.consumer]);
    const relay = await startRelay(app, { publishedMarkDelayMs: 60_000 });
    const queue = outboxQueue(app);
    try {
      await waitFor("the relay to LISTEN", async () => relay.listening);
      const { id: consumedId } = await appendTagged(db(), randomUUID());
      await waitFor("the event to be consumed", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id: consumedId } })).consumedAt);
      // The consumed mark made it published in the same row version, lease released.
      expect(await db().outboxEvent.findUniqueOrThrow({ where: { id: consumedId } })).toMatchObject({ status: "published", publishedAt: expect.any(Date), leaseUntil: null, claimedBy: null });
      await consumers.close();
      // Nobody consumes this one: it stays `publishing` (leased) with its job in the queue until the relay marks it.
      const { id: waitingId } = await appendTagged(db(), randomUUID());
      await waitFor("its job in the queue", async () => (await queue.getJob(waitingId))?.id);
      expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: waitingId } })).status).toBe("publishing");
      await relay.close();
      // Close marks what is still deferred; the consumed event's deferred mark changed nothing.
      expect(await db().outboxEvent.findUniqueOrThrow({ where: { id: waitingId } })).toMatchObject({ status: "published", publishedAt: expect.any(Date), consumedAt: null, leaseUntil: null });
      expect(relay.stats).toMatchObject({ published: 1, markedElsewhere: 1 });
      // A short delay marks an unconsumed event by itself, well inside its lease.
      const quick = await startRelay(app, { publishedMarkDelayMs: 200, leaseMs: 60_000 });
      try {
        const { id } = await appendTagged(db(), randomUUID());
        await waitFor("the deferred mark", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id } })).status === "published", 5000);
      } finally {
        await quick.close();
      }
    } finally {
      await relay.close();
      await consumers.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it("retries a failing publish with growing backoff, marks it dead after max attempts, and holds its aggregate until an operator acts", async () => {
    const poisoned = new Set<string>();
    const attemptsAt = new Map<string, number[]>();
    const recorder = recordingConsumer();
    const consumers = await startConsumers(app, [recorder.consumer]);
    const relay = await startRelay(app, {
      pollIntervalMs: 20,
      retry: { baseMs: 60, maxMs: 1000, jitter: 0.5 },
      // A broker that refuses the events of poisoned aggregates (and takes the rest).
      publisher: async (queue, jobs) => {
        for (const job of jobs) {
          if (poisoned.has(job.data.aggregateId) || (job.data.payload as { tags: string[] }).tags.includes("poison")) {
            // A failed batch is retried event by event; only those single tries count as attempts.
            if (jobs.length === 1) attemptsAt.set(job.data.id, [...(attemptsAt.get(job.data.id) ?? []), Date.now()]);
            throw new Error(`broker refused ${job.data.aggregateId}`);
          }
        }
        await queue.addBulk(jobs);
      },
    });
    try {
      const bad = randomUUID();
      const healthy = randomUUID();
      poisoned.add(bad);
      const first = await appendTagged(db(), bad, ["1"], 3);
      const second = await appendTagged(db(), bad, ["2"], 3);
      await appendTagged(db(), healthy, ["ok"]);

      const dead = await waitFor("the poisoned event to be dead", async () => {
        const row = await db().outboxEvent.findUniqueOrThrow({ where: { id: first.id } });
        return row.status === "dead" ? row : false;
      });
      expect(dead.attempts).toBe(3);
      expect(dead.lastError).toBe(`broker refused ${bad}`);
      expect(dead.lastErrorStack).toContain("Error: broker refused");
      expect(dead.lastFailedAt).toBeInstanceOf(Date);
      // Backoff: attempt n+1 waits at least (1 - jitter) · base · 2^(n-1).
      const times = attemptsAt.get(first.id)!;
      expect(times).toHaveLength(3);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(30 - 5);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(60 - 5);

      // The healthy aggregate was not held up; the bad one's second event waits, visibly.
      await waitFor("the healthy event", async () => recorder.seen.get(healthy)?.length === 1);
      expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: second.id } })).status).toBe("pending");
      expect(attemptsAt.has(second.id)).toBe(false);
      const blocked = await blockedAggregates(db(), { limit: 500 });
      expect(blocked).toContainEqual(
        expect.objectContaining({ aggregateId: bad, waitingEvents: 1, blockedBy: expect.objectContaining({ id: first.id, status: "dead", aggregateSeq: 1 }) }),
      );

      // The operator fixes the broker and retries: both events go out, in order.
      poisoned.delete(bad);
      await retryEvent(db(), first.id, asTestOperator);
      await waitFor("the bad aggregate to drain", async () => recorder.seen.get(bad)?.length === 2);
      expect(recorder.seen.get(bad)).toEqual([1, 2]);
      expect((await blockedAggregates(db(), { limit: 500 })).filter((b) => b.aggregateId === bad)).toEqual([]);

      // Discard: a dead head event is dropped for good and the aggregate moves on without it.
      const other = randomUUID();
      const doomed = await appendTagged(db(), other, ["poison"], 1);
      await appendTagged(db(), other, ["y"]);
      await waitFor("the doomed event to die", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id: doomed.id } })).status === "dead");
      await discardEvent(db(), doomed.id, { actor: { id: null, email: "ops@test.local" }, reason: "bad data" });
      await waitFor("the next event after the discarded one", async () => recorder.seen.get(other)?.length === 1);
      expect(recorder.seen.get(other)).toEqual([2]);
      const discarded = await db().outboxEvent.findUniqueOrThrow({ where: { id: doomed.id } });
      expect(discarded.status).toBe("discarded");
      expect(discarded.lastError).toMatch(/^discarded by ops@test.local: bad data\n/);
    } finally {
      await relay.close();
      await consumers.close();
    }
  });

  it("starts while Redis is down, holds events pending, and publishes once Redis comes up", async () => {
    const redis = await startPrivateRedis();
    await redis.stop();
    const connection = bullmqConnection(redis.url);
    const relay = await startRelay(app, { pollIntervalMs: 100, publishTimeoutMs: 500 }, connection);
    const queue = outboxQueue(app, connection);
    queue.on("error", () => {});
    try {
      const { id } = await appendTagged(db(), randomUUID());
      await new Promise((r) => setTimeout(r, 1000));
      expect(await db().outboxEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "pending", attempts: 0 });
      await redis.restart();
      await waitFor("the event to be published", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id } })).status === "published", 20_000);
      // (Scoped to this test's event: a failed earlier test could leave pending events behind.)
      expect((await queue.getJobs(["waiting"])).filter((j) => j.id === id)).toHaveLength(1);
    } finally {
      await relay.close();
      await queue.close();
      await redis.close();
    }
  });

  it("keeps events pending while Redis is down and publishes them when it returns", async () => {
    const redis = await startPrivateRedis();
    const connection = bullmqConnection(redis.url);
    const relay = await startRelay(app, { pollIntervalMs: 100, publishTimeoutMs: 500 }, connection);
    const queue = outboxQueue(app, connection);
    queue.on("error", () => {});
    try {
      const before = await Promise.all([1, 2, 3].map(() => appendTagged(db(), randomUUID())));
      await waitFor("the first events to be published", async () =>
        (await db().outboxEvent.count({ where: { id: { in: before.map((e) => e.id) }, status: "published" } })) === 3,
      );

      await redis.stop();
      const during = await Promise.all([1, 2, 3, 4].map(() => appendTagged(db(), randomUUID())));
      await new Promise((r) => setTimeout(r, 1500));
      const held = await db().outboxEvent.findMany({ where: { id: { in: during.map((e) => e.id) } } });
      // Nothing published, nothing failed or dead, no attempt counted: the outage is not the events' fault.
      expect(held.map((e) => [e.status, e.attempts])).toEqual(during.map(() => ["pending", 0]));

      await redis.restart();
      await waitFor("publishing to resume", async () =>
        (await db().outboxEvent.count({ where: { id: { in: during.map((e) => e.id) }, status: "published" } })) === 4,
      20_000);
      // The restarted Redis (empty: nothing persisted) now holds exactly the held events' jobs.
      const mine = (ids: Array<{ id: string }>) => new Set(ids.map((e) => e.id));
      const waitingOf = async (set: Set<string>) => (await queue.getJobs(["waiting"])).map((j) => j.id!).filter((id) => set.has(id)).sort();
      expect(await waitingOf(mine([...before, ...during]))).toEqual(during.map((e) => e.id).sort());

      // The jobs of the events published before the outage died with that Redis: published, never
      // consumed. An operator's retry publishes them again.
      for (const e of before) await retryEvent(db(), e.id, asTestOperator);
      await waitFor("the lost events to be published again", async () => (await waitingOf(mine([...before, ...during]))).length === 7);
      expect(await waitingOf(mine([...before, ...during]))).toEqual([...before, ...during].map((e) => e.id).sort());
    } finally {
      await relay.close();
      await queue.close();
      await redis.close();
    }
  });
});
