import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { transformer } from "~/server/platform/transformer";
import { createTestApp, type TestApp } from "~test/support/app";
import { sseReader } from "~test/support/sse";
import { createCaller } from "~/server/api/root";
import { createInnerContext } from "~/server/api/trpc";
import { createDb } from "~/server/platform/db/client";
import { withDomainServices } from "~/server/composition";
import type { LiveSnapshots } from "~/server/reliability/live/live-feeds";
import { errorFingerprint } from "~/server/reliability/failures/fingerprint";
import { overviewInputs } from "~/app/admin/_components/types";

let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
let user: SessionUser;

const append = () =>
  inTransaction(app.services.db, (tx) => appendEvent(tx, { type: "file.tagged", aggregateId: randomUUID(), payload: { fileId: randomUUID(), ownerId: randomUUID(), tags: ["x"] } }));

function watchUrl(input: unknown) {
  return `/api/trpc/admin.live.watch?input=${encodeURIComponent(JSON.stringify(transformer.serialize(input)))}`;
}

type LiveEvent = { at: Date; snapshots: Partial<LiveSnapshots> };
const decode = (data: string) => transformer.deserialize(JSON.parse(data)) as LiveEvent;
const errorOf = (data: string) => (JSON.parse(data) as { json: { message: string; data: { httpStatus: number; code: string } } }).json;

beforeAll(async () => {
  app = await createTestApp();
  operator = await app.createUser({ role: "operator" });
  viewer = await app.createUser({ role: "viewer" });
  user = await app.createUser();
  await append();
});

afterAll(async () => {
  await app?.close();
});

describe("admin.live.watch over SSE", () => {
  it("sends the current snapshot at once, then the next one when the outbox changes, with a resumable id", async () => {
    const ac = new AbortController();
    const res = await app.http(watchUrl({ topics: ["outbox", "sagas"] }), { user: viewer, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const stream = sseReader(res);
    try {
      const first = await stream.nextMeaningful();
      expect(first?.id).toMatch(/^outbox:[\w-]+,sagas:[\w-]+$/);
      const firstData = decode(first!.data);
      expect(firstData.snapshots.outbox?.stats.counts.pending).toBe(1);
      expect(firstData.snapshots.sagas?.metrics.byStatus).toBeDefined();

      // The change: a dead event. Only the outbox topic changed, so only it is sent.
      const event = await append();
      await app.services.db.outboxEvent.update({ where: { id: event.id }, data: { status: "dead", lastError: "gone", lastFailedAt: new Date() } });
      const second = await stream.nextMeaningful();
      const data = decode(second!.data);
      expect(data.snapshots.outbox?.stats.counts.dead).toBe(1);
      expect(data.snapshots.sagas).toBeUndefined();
      expect(second!.id).not.toBe(first!.id);
      expect(second!.id!.split(",")[1]).toBe(first!.id!.split(",")[1]); // sagas: same version

      // Reconnect with the last id: nothing is re-sent until something changes again.
      await stream.close();
      const resumed = sseReader(await app.http(watchUrl({ topics: ["outbox", "sagas"], lastEventId: second!.id }), { user: operator, signal: ac.signal }));
      await app.services.db.outboxEvent.update({ where: { id: event.id }, data: { status: "discarded" } });
      const third = decode((await resumed.nextMeaningful())!.data);
      expect(third.snapshots.outbox?.stats.counts.dead).toBe(0);
      expect(third.snapshots.outbox?.stats.counts.discarded).toBe(1);
      expect(third.snapshots.sagas).toBeUndefined();
      await resumed.close();
    } finally {
      ac.abort();
      await stream.close();
    }
  });

  it("streams the overview's top failure groups, and sends them again when a failure joins a group", async () => {
    const ac = new AbortController();
    const stream = sseReader(await app.http(watchUrl({ topics: ["failures"] }), { user: viewer, signal: ac.signal }));
    try {
      const first = await stream.nextMeaningful();
      expect(first?.id).toMatch(/^failures:[\w-]+$/);
      // What the overview's query (admin.failures.groups with its limit) answers: the snapshot stands in for it.
      expect(decode(first!.data).snapshots.failures?.groups).toEqual(await app.caller(viewer).admin.failures.groups(overviewInputs.failureGroups));

      // The change: an event goes dead with an error of a new group.
      const event = await append();
      await app.services.db.outboxEvent.update({
        where: { id: event.id },
        data: { status: "dead", lastError: "consumer file-indexer: refused the tags", lastFailedAt: new Date(), failureFingerprint: errorFingerprint({ message: "consumer file-indexer: refused the tags" }) },
      });
      const second = decode((await stream.nextMeaningful())!.data).snapshots.failures;
      const group = second?.groups.find((g) => g.sample.id === event.id);
      expect(group).toMatchObject({ source: "outbox", count: 1, byStatus: { dead: 1 } });
      expect(second?.groups).toEqual(await app.caller(viewer).admin.failures.groups(overviewInputs.failureGroups));
    } finally {
      ac.abort();
      await stream.close();
    }
  });

  it("stops polling PostgreSQL when every watcher has left", async () => {
    const feeds = app.services.live;
    const ac = new AbortController();
    const stream = sseReader(await app.http(watchUrl({ topics: ["idempotency"] }), { user: operator, signal: ac.signal }));
    const first = await stream.nextMeaningful();
    expect(decode(first!.data).snapshots.idempotency?.records.total).toBeGreaterThanOrEqual(0);
    // The stream now waits for a change.
    await expect.poll(() => feeds.idempotency.waiting).toBe(1);
    ac.abort();
    await stream.close();
    await expect.poll(() => feeds.idempotency.waiting).toBe(0);
    expect(feeds.idempotency.latest()).toBeUndefined();
  });

  it.each([
    ["signed out", null, 401, "UNAUTHORIZED"],
    ["a user", "user", 403, "FORBIDDEN"],
  ] as const)("refuses %s with the error on the stream and ends it", async (_label, who, status, code) => {
    const res = await app.http(watchUrl({ topics: ["outbox"] }), { user: who ? user : undefined });
    const stream = sseReader(res);
    const event = await stream.nextMeaningful();
    expect(event?.event).toBe("serialized-error");
    const error = errorOf(event!.data);
    expect(error.data.httpStatus).toBe(status);
    expect(error.data.code).toBe(code);
    expect(error.message).toMatch(/sign in|viewers and operators/);
    expect(await stream.nextMeaningful()).toBeNull(); // the stream ends: nothing leaks after the refusal
  });

  it("refuses a bad input with a 400 on the stream", async () => {
    for (const input of [{ topics: [] }, { topics: ["outbox", "outbox"] }, { topics: ["files"] }, { topics: ["outbox"], lastEventId: "<script>" }]) {
      const stream = sseReader(await app.http(watchUrl(input), { user: operator }));
      const event = await stream.nextMeaningful();
      expect(event?.event, JSON.stringify(input)).toBe("serialized-error");
      expect(errorOf(event!.data).data.httpStatus).toBe(400);
      expect(errorOf(event!.data).message).toMatch(/Invalid input/);
      await stream.close();
    }
  });

  it("refuses in-process callers below the viewer role before any stream starts", async () => {
    await expect(app.caller(user).admin.live.watch({ topics: ["outbox"] })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(app.caller(null).admin.live.watch({ topics: ["outbox"] })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("ends a stream with a retryable 503 when PostgreSQL cannot be reached, while streams on a reachable database go on", async () => {
    // A real pool pointed at a port where no PostgreSQL listens (the fault), beside the test's own
    // database: a process composed over it (its own live feeds read from it).
    const unreachable = createDb("postgresql://postgres@127.0.0.1:9/metastore_nowhere", { max: 1 });
    try {
      const broken = createCaller(createInnerContext(withDomainServices({ ...app.services, db: unreachable }), operator));
      const stream = await broken.admin.live.watch({ topics: ["outbox"] });
      const failure = await (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]().next().then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).toMatchObject({ code: "SERVICE_UNAVAILABLE", message: expect.stringMatching(/cannot reach its database/) });

      // In process, a tracked event is tRPC's envelope: [id, data, marker].
      const healthy = (await app.caller(operator).admin.live.watch({ topics: ["outbox"] })) as unknown as AsyncIterable<[string, LiveEvent]>;
      const iterator = healthy[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.value?.[0]).toMatch(/^outbox:/);
      expect(first.value?.[1].snapshots.outbox?.stats.counts).toBeDefined();
      await iterator.return?.();
    } finally {
      await unreachable.$disconnect();
    }
  });
});
