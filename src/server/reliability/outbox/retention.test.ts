import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { startOutboxRetention } from "~test/support/worker";
import { silent, waitFor } from "~test/fixtures/outbox.test-support";
import { deleteExpiredOutboxRows } from "./retention";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

const db = () => app.services.db;
const DAY = 86_400_000;

/** Insert events in a given state directly (retention only reads the columns). */
async function seed(n: number, state: { status: "published" | "dead" | "pending"; publishedAgoMs?: number; consumed: boolean }) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    const publishedAt = state.publishedAgoMs === undefined ? null : new Date(Date.now() - state.publishedAgoMs);
    await db().outboxEvent.create({
      data: {
        id,
        aggregateType: "file",
        aggregateId: randomUUID(),
        aggregateSeq: 1,
        eventType: "file.tagged",
        payload: {},
        status: state.status,
        publishedAt,
        consumedAt: state.consumed ? (publishedAt ?? new Date()) : null,
      },
    });
    ids.push(id);
  }
  return ids;
}

describe("outbox retention", () => {
  it("deletes only old, published and consumed events and old inbox rows, in bounded batches", async () => {
    const old = await seed(5, { status: "published", publishedAgoMs: 10 * DAY, consumed: true });
    const recent = await seed(2, { status: "published", publishedAgoMs: 1000, consumed: true });
    const oldUnconsumed = await seed(1, { status: "published", publishedAgoMs: 10 * DAY, consumed: false });
    const dead = await seed(1, { status: "dead", consumed: false });
    await db().inboxEntry.createMany({
      data: [
        ...old.map((eventId) => ({ consumer: "c", eventId, processedAt: new Date(Date.now() - 10 * DAY) })),
        ...recent.map((eventId) => ({ consumer: "c", eventId })),
      ],
    });

    const result = await deleteExpiredOutboxRows(db(), { olderThan: new Date(Date.now() - 7 * DAY), batchSize: 2 });
    expect(result).toEqual({ events: 5, inbox: 5 });
    const left = (await db().outboxEvent.findMany({ select: { id: true } })).map((r) => r.id).sort();
    expect(left).toEqual([...recent, ...oldUnconsumed, ...dead].sort());
    expect(await db().inboxEntry.count()).toBe(2);

    // maxBatches bounds one sweep (the next sweep continues).
    await seed(5, { status: "published", publishedAgoMs: 10 * DAY, consumed: true });
    expect(await deleteExpiredOutboxRows(db(), { olderThan: new Date(Date.now() - 7 * DAY), batchSize: 2, maxBatches: 1 })).toEqual({ events: 2, inbox: 0 });
    expect(await deleteExpiredOutboxRows(db(), { olderThan: new Date(Date.now() - 7 * DAY), batchSize: 2 })).toEqual({ events: 3, inbox: 0 });
  });

  it("keeps old inbox rows while their event can still be delivered again (pending, failed, dead, published but unconsumed)", async () => {
    const old = new Date(Date.now() - 30 * DAY);
    const [dead] = await seed(1, { status: "dead", consumed: false });
    const [unconsumed] = await seed(1, { status: "published", publishedAgoMs: 30 * DAY, consumed: false });
    const [pending] = await seed(1, { status: "pending", consumed: false });
    const [recentlyConsumed] = await seed(1, { status: "published", publishedAgoMs: 1000, consumed: true });
    const [discarded] = await seed(1, { status: "pending", consumed: false });
    await db().outboxEvent.update({ where: { id: discarded! }, data: { status: "discarded" } });
    const gone = randomUUID(); // its event was deleted by an earlier sweep
    const consumer = `retention-${randomUUID().slice(0, 6)}`;
    await db().inboxEntry.createMany({
      data: [dead!, unconsumed!, pending!, recentlyConsumed!, discarded!, gone].map((eventId) => ({ consumer, eventId, processedAt: old })),
    });

    await deleteExpiredOutboxRows(db(), { olderThan: new Date(Date.now() - 7 * DAY), batchSize: 100 });
    const left = (await db().inboxEntry.findMany({ where: { consumer }, select: { eventId: true } })).map((r) => r.eventId).sort();
    // A retried or redelivered event must still find its consumer's inbox row (else its effect runs twice).
    expect(left).toEqual([dead!, unconsumed!, pending!].sort());
  });

  it("runs as a BullMQ job scheduler", async () => {
    const expired = await seed(3, { status: "published", publishedAgoMs: 2 * DAY, consumed: true });
    const retention = await startOutboxRetention({
      db: db(),
      connection: app.bullConnection,
      prefix: app.queuePrefix,
      logger: silent,
      options: { retentionMs: DAY, everyMs: 200, batchSize: 100 },
    });
    try {
      expect((await retention.queue.getJobSchedulers()).map((s) => s.key)).toEqual(["outbox-retention"]);
      await waitFor("the scheduled sweep", async () => (await db().outboxEvent.count({ where: { id: { in: expired } } })) === 0, 10_000);
    } finally {
      await retention.close();
    }
  });
});
