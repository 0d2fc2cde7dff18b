/**
 * Delivery attempt history and the edited replay of one event, with a real relay, BullMQ and
 * consumers on this test's own database and Redis prefix.
 */
import os from "node:os";
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { deleteExpiredOutboxRows } from "~/server/reliability/outbox/retention";
import { createTestApp, type TestApp } from "~test/support/app";
import { fingerprint, fingerprintQuery, tableNames, changedTables } from "~test/fuzz/state";
import type { EventConsumer } from "~/server/reliability/outbox/consumer";
import { appendTagged, startConsumers, startRelay, waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
const db = () => app.services.db;

beforeAll(async () => {
  app = await createTestApp();
  operator = await app.createUser({ role: "operator" });
  viewer = await app.createUser({ role: "viewer" });
});
afterAll(() => app.close());

/** A consumer that fails the first `failures` deliveries of the aggregates it is told about. */
function flakyConsumer(name: string, failures: number) {
  const seen = new Map<string, Array<{ tags: string[] }>>();
  const failuresLeft = new Map<string, number>();
  const consumer: EventConsumer = {
    name,
    handles: ["file.tagged"],
    async handle(event) {
      const left = failuresLeft.get(event.aggregateId) ?? failures;
      if (left > 0) {
        failuresLeft.set(event.aggregateId, left - 1);
        throw new Error(`downstream refused delivery ${failures - left + 1}`);
      }
      seen.set(event.aggregateId, [...(seen.get(event.aggregateId) ?? []), event.payload as { tags: string[] }]);
    },
  };
  return { consumer, seen };
}

describe("delivery attempt history", () => {
  it("keeps every attempt per consumer across retries (time, duration, error, worker) and the event page lists them", async () => {
    const flaky = flakyConsumer("flaky", 2);
    const steady: EventConsumer = { name: "steady", handles: ["file.tagged"], batchable: true, async handle() {} };
    const consumers = await startConsumers(app, [steady, flaky.consumer]);
    const relay = await startRelay(app, { pollIntervalMs: 50, consumerJob: { attempts: 3, backoffMs: 20 } });
    try {
      const fileId = randomUUID();
      const { id } = await appendTagged(db(), fileId, ["a"]);
      await waitFor("the event consumed", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id } })).consumedAt);
      const event = await app.caller(viewer).admin.outbox.get({ id });
      const byConsumer = (c: string) => event.deliveryAttempts.filter((a) => a.consumer === c).reverse();
      // The flaky consumer: two failures with their own errors, then a success; a retry overwrote nothing.
      expect(byConsumer("flaky").map((a) => [a.attempt, a.outcome, a.error])).toEqual([
        [1, "failed", "downstream refused delivery 1"],
        [2, "failed", "downstream refused delivery 2"],
        [3, "succeeded", null],
      ]);
      // The steady consumer's effect ran once; the retries found its inbox row and are kept as duplicates.
      expect(byConsumer("steady").map((a) => [a.attempt, a.outcome])).toEqual([
        [1, "succeeded"],
        [2, "duplicate"],
        [3, "duplicate"],
      ]);
      for (const a of event.deliveryAttempts) {
        expect(a.worker).toBe(`${os.hostname()}:${process.pid}`);
        expect(a.durationMs).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await relay.close();
      await consumers.close();
    }
  });

  it("records the last attempt of a dead event, and retention removes attempts with their event", async () => {
    const flaky = flakyConsumer("always-failing", 100);
    const consumers = await startConsumers(app, [flaky.consumer]);
    const relay = await startRelay(app, { pollIntervalMs: 50, consumerJob: { attempts: 2, backoffMs: 20 } });
    const fileId = randomUUID();
    let id: string;
    try {
      ({ id } = await appendTagged(db(), fileId));
      await waitFor("the event dead", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id } })).status === "dead");
      await waitFor("both attempts kept", async () => (await db().outboxDeliveryAttempt.count({ where: { eventId: id } })) === 2);
    } finally {
      await relay.close();
      await consumers.close();
    }
    const attempts = await db().outboxDeliveryAttempt.findMany({ where: { eventId: id }, orderBy: { attempt: "asc" } });
    expect(attempts.map((a) => [a.attempt, a.outcome, a.error])).toEqual([
      [1, "failed", "downstream refused delivery 1"],
      [2, "failed", "downstream refused delivery 2"],
    ]);
    // Retention: once published and consumed long ago, the event and its history go together.
    await db().outboxEvent.update({ where: { id }, data: { status: "published", publishedAt: new Date(0), consumedAt: new Date(0) } });
    await deleteExpiredOutboxRows(db(), { olderThan: new Date(Date.now() - 1000), batchSize: 100 });
    expect(await db().outboxDeliveryAttempt.count({ where: { eventId: id } })).toBe(0);
  });
});

describe("replay one event with an edited payload", () => {
  it("rejects a payload that breaks the event's contract with BAD_REQUEST naming the field, and writes nothing", async () => {
    const fileId = randomUUID();
    const { id } = await appendTagged(db(), fileId, ["x"]);
    const sql = fingerprintQuery(await tableNames(db()));
    const before = await fingerprint(db(), sql);
    const error = await app
      .caller(operator)
      .admin.outbox.replayEdited({ id, payload: { fileId, ownerId: fileId, tags: "not-a-list" } })
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe("BAD_REQUEST");
    expect((error as TRPCError).message).toMatch(/does not match the file\.tagged contract[\s\S]*tags/);
    // Over HTTP, the same 400 with the issues for the editor to show.
    const res = await app.http("/api/trpc/admin.outbox.replayEdited", {
      method: "POST",
      user: operator,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { id, payload: { fileId: "nope", ownerId: fileId, tags: [] } } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { json: { data: { details: { issues: Array<{ path: string }> } } } } };
    expect(body.error.json.data.details.issues.map((i) => i.path)).toEqual(["fileId"]);
    expect(changedTables(before, await fingerprint(db(), sql))).toEqual([]);
  });

  it("appends a new event linked to the untouched original, audit-logged, delivered once the original stops blocking", async () => {
    const recorder = flakyConsumer("recorder", 0);
    const fileId = randomUUID();
    const { id } = await appendTagged(db(), fileId, ["original"]);
    await db().outboxEvent.update({ where: { id }, data: { status: "dead", lastError: "consumer x: broken payload" } });
    const original = await db().outboxEvent.findUniqueOrThrow({ where: { id } });

    const replay = await app
      .caller(operator)
      .admin.outbox.replayEdited({ id, payload: { fileId, ownerId: fileId, tags: ["edited"] }, reason: "fixed the tags" });
    expect(replay).toMatchObject({ replayOf: id, aggregateSeq: original.aggregateSeq + 1, waitsFor: { id, status: "dead" } });
    const row = await db().outboxEvent.findUniqueOrThrow({ where: { id: replay.id } });
    expect(row).toMatchObject({ replayOf: id, eventType: "file.tagged", aggregateId: fileId, payload: { fileId, ownerId: fileId, tags: ["edited"] }, headers: { causationId: id } });
    expect(await db().outboxEvent.findUniqueOrThrow({ where: { id } })).toEqual(original);
    expect((await app.caller(viewer).admin.outbox.get({ id })).replays.map((r) => r.id)).toEqual([replay.id]);
    expect(await db().operatorAudit.findMany({ where: { action: "outbox.replayEdited" } })).toEqual([
      expect.objectContaining({ actorId: operator.id, targetKind: "outbox_event", targetIds: [id, replay.id], affectedCount: 1, reason: "fixed the tags" }),
    ]);

    // Discarding the original lets the replay go out: the consumer gets the edited payload.
    await app.caller(operator).admin.outbox.discard({ id, reason: "replaced by its edited replay" });
    const consumers = await startConsumers(app, [recorder.consumer]);
    const relay = await startRelay(app, { pollIntervalMs: 50 });
    try {
      await waitFor("the replay consumed", async () => (await db().outboxEvent.findUniqueOrThrow({ where: { id: replay.id } })).consumedAt);
      expect(recorder.seen.get(fileId)).toEqual([{ fileId, ownerId: fileId, tags: ["edited"] }]);
    } finally {
      await relay.close();
      await consumers.close();
    }
  });

  it("is for operators only", async () => {
    const fileId = randomUUID();
    const { id } = await appendTagged(db(), fileId);
    const error = await app.caller(viewer).admin.outbox.replayEdited({ id, payload: {} }).then(() => null, (e: unknown) => e);
    expect((error as TRPCError).code).toBe("FORBIDDEN");
  });
});
