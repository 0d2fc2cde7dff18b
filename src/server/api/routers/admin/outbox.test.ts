import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { createTestApp, type TestApp } from "~test/support/app";
import { expectTRPCError } from "~test/support/trpc-error";

let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
let user: SessionUser;
const agg = { a: randomUUID(), b: randomUUID(), c: randomUUID() };
const ids: Record<string, string> = {};

const db = () => app.services.db;
const append = (fileId: string, tags: string[]) =>
  inTransaction(db(), (tx) => appendEvent(tx, { type: "file.tagged", aggregateId: fileId, payload: { fileId, ownerId: fileId, tags } }));

beforeAll(async () => {
  app = await createTestApp();
  operator = await app.createUser({ role: "operator" });
  viewer = await app.createUser({ role: "viewer" });
  user = await app.createUser();
  // a: dead head + a waiting event; b: failed; c: published and consumed.
  ids.aDead = (await append(agg.a, ["1"])).id;
  ids.aWaiting = (await append(agg.a, ["2"])).id;
  ids.bFailed = (await append(agg.b, ["1"])).id;
  ids.cDone = (await append(agg.c, ["1"])).id;
  await db().outboxEvent.update({ where: { id: ids.aDead }, data: { status: "dead", attempts: 5, lastError: "Redis said NOPE to this one", lastErrorStack: "Error: NOPE\n    at broker", lastFailedAt: new Date() } });
  await db().outboxEvent.update({ where: { id: ids.bFailed }, data: { status: "failed", attempts: 2, lastError: "timeout talking to broker", lastFailedAt: new Date(), nextAttemptAt: new Date(Date.now() + 3_600_000) } });
  await db().outboxEvent.update({ where: { id: ids.cDone }, data: { status: "published", publishedAt: new Date(), consumedAt: new Date() } });
});
afterAll(() => app.close());

describe("admin.outbox access", () => {
  it("lets viewers read, only operators act, and nobody else in", async () => {
    await expectTRPCError(app.caller(null).admin.outbox.stats(), "UNAUTHORIZED");
    await expectTRPCError(app.caller(user).admin.outbox.list({}), "FORBIDDEN", /viewers and operators/);
    await expect(app.caller(viewer).admin.outbox.stats()).resolves.toBeTruthy();
    await expectTRPCError(app.caller(viewer).admin.outbox.retry({ id: ids.aDead! }), "FORBIDDEN", /Only operators/);
    await expectTRPCError(app.caller(viewer).admin.outbox.discard({ id: ids.aDead! }), "FORBIDDEN");
    await expectTRPCError(app.caller(viewer).admin.outbox.retryMatching({ filter: {} }), "FORBIDDEN");
  });
});

describe("admin.outbox reads", () => {
  it("stats: counts by status, oldest due age, and per-minute rates", async () => {
    const stats = await app.caller(viewer).admin.outbox.stats({ windowMinutes: 5 });
    expect(stats.counts).toEqual({ pending: 1, publishing: 0, published: 1, stalled: 0, failed: 1, dead: 1, discarded: 0 });
    expect(stats.publishedApproximate).toBe(false);
    expect(stats.oldestDueAgeMs).toBeGreaterThanOrEqual(0);
    expect(stats.rates.reduce((n, r) => n + r.published, 0)).toBe(1);
    expect(stats.rates.reduce((n, r) => n + r.failed, 0)).toBe(2);
    expect(stats.failedPerMinute).toBeCloseTo(2 / 5);
  });

  it("list: filters by status, type, aggregate, time and error text; pages by keyset without gaps or repeats", async () => {
    const list = (filter: object, extra: object = {}) => app.caller(viewer).admin.outbox.list({ filter, ...extra });
    expect((await list({ status: ["dead"] })).items.map((e) => e.id)).toEqual([ids.aDead]);
    expect((await list({ status: ["dead", "failed"] })).items.map((e) => e.id)).toEqual([ids.bFailed, ids.aDead]);
    expect((await list({ aggregateType: "file", aggregateId: agg.a })).items.map((e) => e.id)).toEqual([ids.aWaiting, ids.aDead]);
    expect((await list({ errorContains: "nope" })).items.map((e) => e.id)).toEqual([ids.aDead]);
    expect((await list({ type: "file.renamed" })).items).toEqual([]);
    expect((await list({ from: new Date(Date.now() + 60_000) })).items).toEqual([]);
    expect((await list({ from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 1000) })).items).toHaveLength(4);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list({}, { limit: 3, cursor });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([ids.cDone, ids.bFailed, ids.aWaiting, ids.aDead]);
  });

  it("get: the event with payload, error, and the event blocking it", async () => {
    const waiting = await app.caller(viewer).admin.outbox.get({ id: ids.aWaiting! });
    expect(waiting).toMatchObject({ id: ids.aWaiting, payload: { tags: ["2"] }, blockedBy: { id: ids.aDead, status: "dead", aggregateSeq: 1 } });
    const dead = await app.caller(viewer).admin.outbox.get({ id: ids.aDead! });
    expect(dead).toMatchObject({ lastError: "Redis said NOPE to this one", lastErrorStack: null, blockedBy: null });
    // The stack is for operators only.
    expect((await app.caller(operator).admin.outbox.get({ id: ids.aDead! })).lastErrorStack).toBe("Error: NOPE\n    at broker");
  });

  it("blocked: which aggregates wait, behind which event", async () => {
    expect(await app.caller(viewer).admin.outbox.blocked()).toEqual([
      expect.objectContaining({ aggregateId: agg.a, waitingEvents: 1, blockedBy: expect.objectContaining({ id: ids.aDead, status: "dead", lastError: "Redis said NOPE to this one" }) }),
    ]);
  });

  it.each([
    ["a status that does not exist", { filter: { status: ["lost"] } }, /status/],
    ["an inverted time range", { filter: { from: new Date(), to: new Date(Date.now() - 1000) } }, /`from` must be before `to`/],
    ["an aggregate id without its type", { filter: { aggregateId: "x" } }, /give aggregateType with aggregateId/],
    ["a limit over 200", { limit: 500 }, /limit/],
    ["a cursor that is not an event id", { cursor: "abc" }, /outbox event id/],
  ])("list rejects %s with BAD_REQUEST", async (_label, input, message) => {
    await expectTRPCError(app.caller(viewer).admin.outbox.list(input as never), "BAD_REQUEST", message);
  });

  it("get answers NOT_FOUND for an unknown id and BAD_REQUEST for a malformed one", async () => {
    await expectTRPCError(app.caller(viewer).admin.outbox.get({ id: randomUUID() }), "NOT_FOUND", /was not found/);
    await expectTRPCError(app.caller(viewer).admin.outbox.get({ id: "42" }), "BAD_REQUEST", /outbox event id/);
  });
});

describe("admin.outbox actions", () => {
  it("retry: refuses events that are not failed or dead, with their status", async () => {
    await expectTRPCError(app.caller(operator).admin.outbox.retry({ id: ids.cDone! }), "CONFLICT", /is published and consumed; only failed or dead \(or published but not yet consumed\) events can be retried/);
    await expectTRPCError(app.caller(operator).admin.outbox.retry({ id: randomUUID() }), "NOT_FOUND");
  });

  it("discard: refuses published events; a discarded event no longer blocks its aggregate", async () => {
    await expectTRPCError(app.caller(operator).admin.outbox.discard({ id: ids.cDone! }), "CONFLICT", /is published and consumed; only pending, failed or dead events can be discarded/);
    const dead = await app.caller(operator).admin.outbox.discard({ id: ids.aDead!, reason: "poison" });
    expect(dead).toEqual({ id: ids.aDead, status: "discarded" });
    expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: ids.aDead! } })).lastError).toBe(`discarded by ${operator.email}: poison\nRedis said NOPE to this one`);
    expect(await app.caller(viewer).admin.outbox.blocked()).toEqual([]);
    expect((await app.caller(viewer).admin.outbox.get({ id: ids.aWaiting! })).blockedBy).toBeNull();
    await expectTRPCError(app.caller(operator).admin.outbox.retry({ id: ids.aDead! }), "CONFLICT", /is discarded/);
  });

  it("retryMatching: retries every failed/dead event matching the filter in batches and says how many", async () => {
    const extra = await Promise.all(Array.from({ length: 5 }, () => append(randomUUID(), ["z"])));
    await db().outboxEvent.updateMany({ where: { id: { in: extra.map((e) => e.id) } }, data: { status: "dead", attempts: 5, lastError: "broker exploded", lastFailedAt: new Date() } });
    await expectTRPCError(
      app.caller(operator).admin.outbox.retryMatching({ filter: { status: ["published"] } }),
      "BAD_REQUEST",
      /Only failed or dead events can be retried/,
    );
    const result = await app.caller(operator).admin.outbox.retryMatching({ filter: { errorContains: "EXPLODED" }, batchSize: 2 });
    expect(result).toEqual({ retried: 5, batches: 3, capped: false });
    const rows = await db().outboxEvent.findMany({ where: { id: { in: extra.map((e) => e.id) } } });
    expect(rows.every((r) => r.status === "pending" && r.attempts === 0)).toBe(true);
    // The failed event of aggregate b did not match the text and was left alone.
    expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: ids.bFailed! } })).status).toBe("failed");
    expect(await app.caller(operator).admin.outbox.retryMatching({ filter: { status: ["failed"] }, maxEvents: 10 })).toEqual({ retried: 1, batches: 1, capped: false });
  });
});

describe("stalled events (published, not consumed past OUTBOX_STALLED_AFTER_MS)", () => {
  it("are shown as stalled, not published, in stats, list, get and blocked; an operator may send one again; /api/metrics has them", async () => {
    const fileId = randomUUID();
    const stalled = (await append(fileId, ["s"])).id;
    const behind = (await append(fileId, ["t"])).id;
    const fresh = (await append(randomUUID(), ["f"])).id;
    // The test app's deadline is the default (60 s): one published 2 minutes ago is stalled, one just now is not.
    await db().outboxEvent.update({ where: { id: stalled }, data: { status: "published", publishedAt: new Date(Date.now() - 120_000) } });
    await db().outboxEvent.update({ where: { id: fresh }, data: { status: "published", publishedAt: new Date() } });
    await db().$executeRaw`INSERT INTO outbox_reconcile_stat (reason, total) VALUES ('job_missing', 7), ('job_failed', 2)`;

    const stats = await app.caller(viewer).admin.outbox.stats({ windowMinutes: 5 });
    expect(stats.counts.stalled).toBe(1);
    const ofStatus = async (status: Array<"published" | "stalled">) =>
      (await app.caller(viewer).admin.outbox.list({ filter: { status } })).items.filter((e) => [stalled, fresh].includes(e.id)).map((e) => [e.id, e.status]);
    expect(await ofStatus(["stalled"])).toEqual([[stalled, "stalled"]]);
    expect(await ofStatus(["published"])).toEqual([[fresh, "published"]]);
    expect((await ofStatus(["published", "stalled"])).sort()).toEqual([[fresh, "published"], [stalled, "stalled"]].sort());
    expect((await app.caller(viewer).admin.outbox.get({ id: stalled })).status).toBe("stalled");
    expect((await app.caller(viewer).admin.outbox.get({ id: behind })).blockedBy).toMatchObject({ id: stalled, status: "stalled" });
    expect((await app.caller(viewer).admin.outbox.blocked({})).find((b) => b.aggregateId === fileId)?.blockedBy.status).toBe("stalled");

    const { createMetricsRegistry } = await import("~/server/metrics/prometheus");
    const text = await createMetricsRegistry(app.services).metrics();
    expect(text).toMatch(/^metastore_outbox_stalled_events 1$/m);
    expect(text).toMatch(/^# TYPE metastore_outbox_reconciled_total counter$/m);
    expect(text).toMatch(/^metastore_outbox_reconciled_total\{reason="job_missing"\} 7$/m);
    expect(text).toMatch(/^metastore_outbox_reconciled_total\{reason="job_failed"\} 2$/m);
    expect(text).toMatch(/^metastore_outbox_reconciled_total\{reason="job_completed"\} 0$/m);

    await app.caller(operator).admin.outbox.retry({ id: stalled });
    expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: stalled } })).status).toBe("pending");
  });
});
