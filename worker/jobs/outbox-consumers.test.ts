import { asTestOperator } from "~test/support/audit";
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createFilesServiceWithOutbox } from "~/server/features/files/files-outbox";
import { retryEvent } from "~/server/reliability/outbox/operations";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { createTestApp, type TestApp } from "~test/support/app";
import { createCacheInvalidator, defaultConsumers, type EventConsumer } from "./consumer-registry";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { processOutboxJob } from "./outbox-consumers";
import { createConsumedMarker, createInboxBatcher } from "~/server/reliability/outbox/consumption";
import type { Tx } from "~/server/platform/db/transaction";
import { appendTagged, recordingConsumer, silent, startConsumers, startRelay, waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
let alice: SessionUser;
beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 1024 * 1024 });
  alice = await app.createUser();
});
afterAll(() => app.close());

const db = () => app.services.db;

// A 2×2 PNG.
const PNG_2X2 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==",
  "base64",
);

/** An upload through the files service composed with the outbox (the path that emits file.uploaded). */
function upload(content: Uint8Array | string, name: string, type: string) {
  const files = createFilesServiceWithOutbox(app.services);
  return files.upload({ ownerId: alice.id, name, declaredType: type, bytes: typeof content === "string" ? Buffer.from(content) : content, tags: [], maxBytes: 1024 * 1024 });
}

/** The event row as a BullMQ job would carry it. */
async function jobFor(eventId: string, attemptsMade = 0) {
  const e = await db().outboxEvent.findUniqueOrThrow({ where: { id: eventId } });
  return {
    id: e.id,
    attemptsMade,
    opts: { attempts: 3 },
    data: {
      id: e.id,
      type: e.eventType,
      aggregateType: e.aggregateType,
      aggregateId: e.aggregateId,
      aggregateSeq: e.aggregateSeq,
      payload: e.payload,
      headers: e.headers,
      createdAt: e.createdAt.toISOString(),
    },
  };
}

describe("consumer inbox", () => {
  it("runs a handler's effect once when the same job is processed twice", async () => {
    let effects = 0;
    const counting: EventConsumer = {
      name: "counting",
      handles: ["file.tagged"],
      async handle(_event, { tx }) {
        effects++;
        await tx.$executeRaw`SELECT 1`;
      },
    };
    const marker = createConsumedMarker(db());
    const deps = { db: db(), storage: app.services.storage, logger: silent, consumers: [counting], markConsumed: marker.mark };
    const { id } = await appendTagged(db(), randomUUID(), ["x"]);
    const job = await jobFor(id);

    expect(await processOutboxJob(deps, job)).toEqual({ handled: ["counting"], duplicates: [] });
    expect(await processOutboxJob(deps, { ...job, attemptsMade: 1 })).toEqual({ handled: [], duplicates: ["counting"] });
    expect(effects).toBe(1);
    expect(await db().inboxEntry.count({ where: { eventId: id } })).toBe(1);
    expect((await db().outboxEvent.findUniqueOrThrow({ where: { id } })).consumedAt).toBeInstanceOf(Date);
  });

  it("dedupes a second BullMQ delivery of the same event (same data, another job)", async () => {
    const recorder = recordingConsumer();
    const consumers = await startConsumers(app, [recorder.consumer]);
    const queue = new Queue(QueueName.outboxEvents, { connection: app.bullConnection, prefix: queueKeyPrefix(app.queuePrefix, QueueName.outboxEvents) });
    try {
      const fileId = randomUUID();
      const { id } = await appendTagged(db(), fileId);
      const job = await jobFor(id);
      // Two deliveries of one event (what a redelivery after a stalled job looks like to the handler).
      await queue.add("file.tagged", job.data, { jobId: `${id}-a` });
      await queue.add("file.tagged", job.data, { jobId: `${id}-b` });
      await waitFor("both jobs to complete", async () => consumers.stats.handled === 2);
      expect(recorder.seen.get(fileId)).toEqual([1]);
      expect(await db().inboxEntry.count({ where: { eventId: id, consumer: recorder.consumer.name } })).toBe(1);
    } finally {
      await consumers.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it("retries a failing handler with backoff, marks the event dead after the last attempt, and an operator retry delivers it", async () => {
    let failing = true;
    const calls: number[] = [];
    const fileId = randomUUID();
    const flaky: EventConsumer = {
      name: "flaky",
      handles: ["file.tagged"],
      async handle(event) {
        // (Events left unpublished by the tests above go through here too: only this file's count.)
        if (event.aggregateId !== fileId) return;
        calls.push(Date.now());
        if (failing) throw new Error("downstream unavailable");
      },
    };
    const consumers = await startConsumers(app, [flaky]);
    const relay = await startRelay(app, { pollIntervalMs: 50, consumerJob: { attempts: 3, backoffMs: 50 } });
    try {
      const { id } = await appendTagged(db(), fileId);
      const next = await appendTagged(db(), fileId);
      const dead = await waitFor("the event to be dead", async () => {
        const row = await db().outboxEvent.findUniqueOrThrow({ where: { id } });
        return row.status === "dead" ? row : false;
      });
      expect(calls).toHaveLength(3);
      // BullMQ's exponential backoff with 50% jitter: ≥ 25 ms, then ≥ 50 ms.
      expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(20);
      expect(calls[2]! - calls[1]!).toBeGreaterThanOrEqual(45);
      expect(dead.lastError).toBe("consumer flaky: downstream unavailable");
      expect(dead.consumedAt).toBeNull();
      // Its successor is held back behind it.
      expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: next.id } })).status).toBe("pending");

      failing = false;
      await retryEvent(db(), id, asTestOperator);
      await waitFor("both events consumed", async () => (await db().outboxEvent.count({ where: { id: { in: [id, next.id] }, consumedAt: { not: null } } })) === 2);
      expect(calls).toHaveLength(5);
    } finally {
      await relay.close();
      await consumers.close();
    }
  });
});

describe("batched inbox (batchable consumers)", () => {
  it("shares transactions across events, runs each effect once, and a failing effect fails only its own event", async () => {
    const batcher = createInboxBatcher(db(), { maxDelayMs: 20, maxBatch: 100 });
    const scope = `batch-${randomUUID().slice(0, 8)}`;
    // A database effect we can count: rows that exist only if the effect's transaction committed.
    const effect = (eventId: string) => async (tx: Tx) => {
      await tx.$executeRaw`INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq) VALUES (${scope}, ${eventId}, 1)`;
    };
    const ids = Array.from({ length: 10 }, () => randomUUID());
    const poison = randomUUID();
    const results = await Promise.allSettled([
      ...ids.map((id) => batcher.run("batched", id, effect(id))),
      // A second delivery of the first event, landing in the same batch.
      batcher.run("batched", ids[0]!, effect(ids[0]!)),
      batcher.run("batched", poison, async () => {
        throw new Error("this one is broken");
      }),
    ]);
    expect(results.slice(0, 10).map((r) => r.status === "fulfilled" && r.value)).toEqual(ids.map(() => "handled"));
    expect(results[10]).toEqual({ status: "fulfilled", value: "duplicate" });
    expect(results[11]).toMatchObject({ status: "rejected", reason: { message: "this one is broken" } });
    // Each effect committed exactly once; the failed event left no inbox row (it will be retried).
    expect(await db().outboxAggregate.count({ where: { aggregateType: scope } })).toBe(10);
    expect(await db().inboxEntry.count({ where: { consumer: "batched", eventId: { in: ids } } })).toBe(10);
    expect(await db().inboxEntry.count({ where: { consumer: "batched", eventId: poison } })).toBe(0);
    // A later redelivery is a duplicate.
    expect(await batcher.run("batched", ids[3]!, effect(ids[3]!))).toBe("duplicate");
  });
});

describe("batched inbox on raw pg (txFree consumers)", () => {
  it("same outcomes and consumed marks as the Prisma path; a failing effect rolls its batch back and fails only its own event", async () => {
    const { sideTransaction } = await import("~/server/platform/db/side-pool");
    // The app's client is made by createDb: it has side transactions, so txFree batches take them.
    expect(sideTransaction(db())).toBeDefined();
    const batcher = createInboxBatcher(db(), { maxDelayMs: 20, maxBatch: 100 });
    const events = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const aggregateId = randomUUID();
        const { id } = await inTransaction(db(), (tx) => appendEvent(tx, { type: "file.renamed", aggregateId, payload: { fileId: aggregateId, ownerId: alice.id, from: "a", to: "b" } }));
        return id;
      }),
    );
    const poison = events[5]!;
    const ran: string[] = [];
    const effect = (eventId: string) => async () => void ran.push(eventId);
    const attempt = { attempt: 1, startedAt: Date.now(), worker: "test:1" };
    const results = await Promise.allSettled([
      ...events.slice(0, 5).map((id) => batcher.run("raw-batched", id, effect(id), { markConsumed: true, attempt, txFree: true })),
      batcher.run("raw-batched", events[0]!, effect(events[0]!), { markConsumed: true, attempt, txFree: true }),
      batcher.run("raw-batched", poison, async () => {
        throw new Error("this one is broken");
      }, { markConsumed: true, attempt, txFree: true }),
    ]);
    expect(results.slice(0, 5).map((r) => r.status === "fulfilled" && r.value)).toEqual(events.slice(0, 5).map(() => "handled"));
    expect(results[5]).toEqual({ status: "fulfilled", value: "duplicate" });
    expect(results[6]).toMatchObject({ status: "rejected", reason: { message: "this one is broken" } });
    // The failed shared batch committed nothing: each good effect ran in it and once more alone.
    expect(new Set(ran)).toEqual(new Set(events.slice(0, 5)));
    const rows = await db().outboxEvent.findMany({ where: { id: { in: events } }, select: { id: true, consumedAt: true } });
    const consumed = new Map(rows.map((r) => [r.id, r.consumedAt !== null]));
    expect(events.map((id) => consumed.get(id))).toEqual([true, true, true, true, true, false]);
    const inbox = await db().inboxEntry.findMany({ where: { consumer: "raw-batched", eventId: { in: events } } });
    expect(inbox.map((r) => r.eventId).sort()).toEqual(events.slice(0, 5).sort());
    expect(inbox.every((r) => r.attempt === 1 && r.worker === "test:1")).toBe(true);

    // A batch that commits on raw pg: inbox rows, consumed marks and the duplicate's attempt row.
    const more = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const aggregateId = randomUUID();
        const { id } = await inTransaction(db(), (tx) => appendEvent(tx, { type: "file.renamed", aggregateId, payload: { fileId: aggregateId, ownerId: alice.id, from: "a", to: "b" } }));
        return id;
      }),
    );
    ran.length = 0;
    const second = await Promise.all([
      ...more.map((id) => batcher.run("raw-batched", id, effect(id), { markConsumed: true, attempt, txFree: true })),
      batcher.run("raw-batched", events[1]!, effect(events[1]!), { markConsumed: true, attempt: { ...attempt, attempt: 2 }, txFree: true }),
    ]);
    expect(second).toEqual(["handled", "handled", "handled", "duplicate"]);
    expect(ran.sort()).toEqual([...more].sort());
    expect(await db().outboxEvent.count({ where: { id: { in: more }, consumedAt: { not: null } } })).toBe(3);
    expect(await db().outboxDeliveryAttempt.count({ where: { eventId: events[1]!, consumer: "raw-batched", outcome: "duplicate", attempt: 2 } })).toBe(1);

    // A txFree effect that uses its transaction anyway fails loudly instead of writing outside it.
    const stray = more[0]!;
    await expect(batcher.run("raw-stray", stray, async (tx) => void (await tx.$executeRaw`SELECT 1`), { txFree: true })).rejects.toThrow(/txFree/);
  });
});

describe("real handlers", () => {
  it("file.* → the cache invalidator drops the query-cache entries of the changed file", async () => {
    const { createQueryCache } = await import("~/server/reliability/cache");
    const { fileTags } = await import("~/server/features/files/cache-tags");
    const cache = createQueryCache({ redis: app.services.redis, appPrefix: app.prefix, logger: silent, statsFlushMs: 0 });
    try {
      // Connected (on a cluster: to every master) before the first read, whose deadline is a few ms.
      expect(await cache.whenReady()).toBe(true);
      const fileId = randomUUID();
      let loads = 0;
      const read = () => cache.wrap({ prefix: "files", path: "files.get", scope: alice.id, input: { id: fileId }, ttlMs: 60_000, tags: [fileTags.file(fileId)] }, async () => ++loads);
      expect(await read()).toBe(1);
      expect(await read()).toBe(1); // cached
      const { id } = await inTransaction(db(), (tx) =>
        appendEvent(tx, { type: "file.renamed", aggregateId: fileId, payload: { fileId, ownerId: alice.id, from: "a", to: "b" } }),
      );
      const marker = createConsumedMarker(db());
      const deps = { db: db(), storage: app.services.storage, logger: silent, consumers: [createCacheInvalidator(cache)], markConsumed: marker.mark };
      expect(await processOutboxJob(deps, await jobFor(id))).toEqual({ handled: ["cache-invalidator"], duplicates: [] });
      expect(await read()).toBe(2); // dropped, loaded again
    } finally {
      await cache.close();
    }
  });


  it("file.uploaded: records sha256, the type detected from the bytes and image dimensions", async () => {
    const consumers = await startConsumers(app, [...defaultConsumers]);
    const relay = await startRelay(app, { pollIntervalMs: 50 });
    try {
      // Declared as text, but the bytes are a PNG: the worker says what it really is.
      const png = await upload(PNG_2X2, "pixel.txt", "text/plain");
      const text = await upload("héllo wörld\n", "hello.bin", "application/octet-stream");
      const inspected = await waitFor("both files inspected", async () => {
        const rows = await db().file.findMany({ where: { id: { in: [png.id, text.id] }, checksumSha256: { not: null } } });
        return rows.length === 2 ? new Map(rows.map((r) => [r.id, r])) : false;
      });
      const { createHash } = await import("node:crypto");
      expect(inspected.get(png.id)).toMatchObject({
        mimeType: "text/plain",
        detectedType: "image/png",
        width: 2,
        height: 2,
        checksumSha256: createHash("sha256").update(PNG_2X2).digest("hex"),
      });
      expect(inspected.get(text.id)).toMatchObject({ detectedType: "text/plain", width: null, height: null });
      expect(await db().inboxEntry.count({ where: { consumer: "file-inspector" } })).toBe(2);
    } finally {
      await relay.close();
      await consumers.close();
    }
  });

  it("file.deleted: removes the blob once no live file references it; keeps it while one does", async () => {
    const consumers = await startConsumers(app, [...defaultConsumers]);
    const relay = await startRelay(app, { pollIntervalMs: 50 });
    try {
      const a = await upload("delete me", "a.txt", "text/plain");
      const b = await upload("keep me", "b.txt", "text/plain");
      const rowA = await db().file.findUniqueOrThrow({ where: { id: a.id } });
      const rowB = await db().file.findUniqueOrThrow({ where: { id: b.id } });
      // A second live record sharing b's blob (as a dedupe or copy feature would make).
      const twin = await db().file.create({ data: { ownerId: alice.id, name: "twin.txt", mimeType: "text/plain", sizeBytes: 7n, storageKey: rowB.storageKey } });

      await app.caller(alice).files.delete({ id: a.id });
      await app.caller(alice).files.delete({ id: b.id });
      await waitFor("both deletions consumed", async () =>
        (await db().outboxEvent.count({ where: { eventType: "file.deleted", aggregateId: { in: [a.id, b.id] }, consumedAt: { not: null } } })) === 2,
      );
      expect(await app.services.storage.exists(rowA.storageKey)).toBe(false);
      expect(await app.services.storage.exists(rowB.storageKey)).toBe(true);
      expect(twin.status).toBe("active");
      // The upload events were consumed before the deletes (same aggregate, commit order).
      const events = await db().outboxEvent.findMany({ where: { aggregateId: a.id }, orderBy: { aggregateSeq: "asc" } });
      expect(events.map((e) => e.eventType)).toEqual(["file.uploaded", "file.deleted"]);
      expect(events[0]!.consumedAt!.getTime()).toBeLessThanOrEqual(events[1]!.consumedAt!.getTime());
    } finally {
      await relay.close();
      await consumers.close();
    }
  });
});
