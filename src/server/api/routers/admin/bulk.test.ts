import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { runBulkBatch } from "~/server/reliability/bulk/operations";
import { createTestApp, type TestApp } from "~test/support/app";
import { createUsersOfEachRole } from "~test/support/roles";
import { expectTRPCError } from "~test/support/trpc-error";
import { seedOutboxEvents, seedSagas } from "~test/support/bulk";
import { startBulkOperations } from "~test/support/worker";
import { waitFor } from "~test/fixtures/outbox.test-support";

/** admin.bulk through the real router, with the real BullMQ worker running operations against PostgreSQL. */
let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
let user: SessionUser;
const db = () => app.services.db;

beforeAll(async () => {
  app = await createTestApp();
  ({ operator, viewer, user } = await createUsersOfEachRole(app));
  await seedOutboxEvents(db(), { count: 50, status: "published" });
  await seedOutboxEvents(db(), { count: 30, status: "dead", error: "consumer x: ECONNRESET on 10.0.0.1", tag: "alpha", offset: 1 });
  await seedOutboxEvents(db(), { count: 12, status: "failed", eventType: "file.renamed", error: "consumer y: disk full", tag: "beta", offset: 2 });
  await seedOutboxEvents(db(), { count: 5, status: "pending", offset: 3 });
});
afterAll(() => app.close());

describe("admin.bulk dry run", () => {
  it("counts and samples what a filter would touch, per action and filter kind", async () => {
    const api = app.caller(viewer).admin.bulk;
    expect((await api.dryRun({ action: "outbox.retry" })).count).toBe(42);
    expect((await api.dryRun({ action: "outbox.discard" })).count).toBe(47);
    expect((await api.dryRun({ action: "outbox.retry", filter: { status: ["failed"] } })).count).toBe(12);
    expect((await api.dryRun({ action: "outbox.retry", filter: { type: "file.renamed" } })).count).toBe(12);
    expect((await api.dryRun({ action: "outbox.retry", filter: { errorContains: "econnreset" } })).count).toBe(30);
    expect((await api.dryRun({ action: "outbox.retry", filter: { errorContains: "100%_" } })).count).toBe(0); // LIKE wildcards are literal
    expect((await api.dryRun({ action: "outbox.retry", filter: { payload: { path: "tags", value: "beta" } } })).count).toBe(0); // an array is not a scalar
    const byBatch = await api.dryRun({ action: "outbox.retry", filter: { payload: { path: "batch", value: 3 } } });
    expect(byBatch.count).toBe(4); // g % 10 = 3 among 30 (3, 13, 23) and 12 (3)
    const byOwner = await api.dryRun({ action: "outbox.retry", filter: { errorContains: "disk", payload: { path: "ownerId", value: "owner-1" } } });
    expect(byOwner.count).toBe(4);
    expect(byOwner.sample).toHaveLength(4);
    expect(byOwner.target).toBe("outbox"); // the target defaults to outbox
    if (byOwner.target !== "outbox") throw new Error("unreachable");
    expect(byOwner.sample.every((e) => e.eventType === "file.renamed" && e.lastError === "consumer y: disk full")).toBe(true);
    const recent = await api.dryRun({ action: "outbox.retry", filter: { from: new Date(Date.now() - 60_000) } });
    expect(recent.count).toBe(0);
  });

  it("answers bad filters with a 400 naming the problem", async () => {
    const api = app.caller(operator).admin.bulk;
    await expectTRPCError(api.dryRun({ action: "outbox.retry", filter: { status: ["pending"] } }), "BAD_REQUEST", /retry applies to failed or dead events/);
    await expectTRPCError(api.dryRun({ action: "outbox.retry", filter: { payload: { path: "a;drop", value: 1 } } }), "BAD_REQUEST", /dot-separated keys/);
    await expectTRPCError(api.dryRun({ action: "outbox.nuke" as never }), "BAD_REQUEST", /action/);
    await expectTRPCError(api.start({ action: "outbox.retry", dryRunCount: -1 }), "BAD_REQUEST", /dryRunCount/);
  });
});

describe("admin.bulk runs", () => {
  it("start → the worker runs it in batches → completed, with its summary and audit rows", async () => {
    const worker = await startBulkOperations({ db: db(), connection: app.bullConnection, prefix: app.queuePrefix, logger: app.services.logger, options: { sweepEveryMs: 200, staleAfterMs: 5_000 } });
    try {
      const filter = { errorContains: "ECONNRESET" };
      const { count } = await app.caller(operator).admin.bulk.dryRun({ action: "outbox.retry", filter });
      const started = await app.caller(operator).admin.bulk.start({ action: "outbox.retry", filter, dryRunCount: count, batchSize: 7, reason: "network fixed" });
      expect(started).toMatchObject({ status: "pending", dryRunCount: 30, finished: false });
      const done = await waitFor("the bulk run to finish", async () => {
        const op = await app.caller(viewer).admin.bulk.get({ id: started.id });
        return op.finished ? op : null;
      });
      expect(done).toMatchObject({ status: "completed", examined: 30, affected: 30, batches: 5, progress: 1 });
      expect(await db().outboxEvent.count({ where: { lastError: { contains: "ECONNRESET" }, status: "pending" } })).toBe(30);
      const audit = await db().operatorAudit.findMany({ where: { correlationId: started.id }, orderBy: { id: "asc" } });
      expect(audit.map((r) => r.action)).toEqual(["bulk.start", ...Array(5).fill("bulk.batch"), "bulk.complete"]);
      expect(audit[0]).toMatchObject({ actorId: operator.id, dryRunCount: 30, reason: "network fixed" });
      expect(audit.at(-1)).toMatchObject({ dryRunCount: 30, affectedCount: 30, outcome: "succeeded" });
      expect((await app.caller(viewer).admin.bulk.list({})).items[0]!.id).toBe(started.id);
    } finally {
      await worker.close();
    }
  });

  it("cancel: a pending operation ends at once; a running one at its next batch boundary", async () => {
    const api = app.caller(operator).admin.bulk;
    const pending = await api.start({ action: "outbox.discard", filter: { status: ["pending"] }, dryRunCount: 5 });
    expect(await api.cancel({ id: pending.id, reason: "wrong filter" })).toMatchObject({ status: "cancelled", affected: 0 });
    expect(await db().outboxEvent.count({ where: { status: "pending" } })).toBeGreaterThanOrEqual(5);
    await expectTRPCError(api.cancel({ id: pending.id }), "CONFLICT", /is cancelled; only a pending or running one can be cancelled/);

    const running = await api.start({ action: "outbox.discard", filter: { type: "file.renamed" }, dryRunCount: 12, batchSize: 5 });
    expect(await runBulkBatch(db(), running.id)).toEqual({ done: false, examined: 5, affected: 5 }); // one batch, as a worker would
    expect(await api.cancel({ id: running.id })).toMatchObject({ status: "running", cancelRequested: true });
    const worker = await startBulkOperations({ db: db(), connection: app.bullConnection, prefix: app.queuePrefix, logger: app.services.logger, options: { sweepEveryMs: 200, staleAfterMs: 5_000 } });
    try {
      const done = await waitFor("the cancelled run to stop", async () => {
        const op = await app.caller(viewer).admin.bulk.get({ id: running.id });
        return op.finished ? op : null;
      });
      expect(done).toMatchObject({ status: "cancelled", affected: 5, batches: 1 });
      expect(await db().outboxEvent.count({ where: { eventType: "file.renamed", status: "discarded" } })).toBe(5);
      expect((await db().operatorAudit.findMany({ where: { correlationId: running.id }, orderBy: { id: "asc" } })).map((r) => r.action)).toEqual([
        "bulk.start",
        "bulk.batch",
        "bulk.cancel",
        "bulk.cancelled",
      ]);
    } finally {
      await worker.close();
    }
  });

  it("is for viewers (read) and operators (act)", async () => {
    await expectTRPCError(app.caller(null).admin.bulk.list({}), "UNAUTHORIZED");
    await expectTRPCError(app.caller(user).admin.bulk.dryRun({ action: "outbox.retry" }), "FORBIDDEN");
    await expectTRPCError(app.caller(viewer).admin.bulk.start({ action: "outbox.retry", dryRunCount: 1 }), "FORBIDDEN");
    await expectTRPCError(app.caller(viewer).admin.bulk.get({ id: "0190a0a0-0000-7000-8000-000000000000" }), "NOT_FOUND", /was not found/);
  });
});

describe("admin.bulk on sagas", () => {
  const FP = "c".repeat(32);
  beforeAll(async () => {
    await seedSagas(db(), { count: 40, status: "completed", error: null });
    await seedSagas(db(), { count: 9, status: "failed", error: "step store-blob: storage unavailable", fingerprint: FP, offset: 10 });
    await seedSagas(db(), { count: 4, status: "compensated", currentStep: 1, error: "step inspect: timeout", offset: 11 });
    await seedSagas(db(), { count: 3, status: "failed", type: "file.other", error: "step x: boom", offset: 12 });
    await seedSagas(db(), { count: 6, status: "running", idleMinutes: 30, offset: 13 });
    await seedSagas(db(), { count: 2, status: "running", currentStep: 1, idleMinutes: 0, offset: 14 });
  });
  const worker = () =>
    startBulkOperations({ db: db(), connection: app.bullConnection, prefix: app.queuePrefix, logger: app.services.logger, sagaRegistry: app.services.sagas.registry, options: { sweepEveryMs: 200, staleAfterMs: 5_000 } });
  const finished = (id: string) =>
    waitFor("the bulk run to finish", async () => {
      const op = await app.caller(viewer).admin.bulk.get({ id });
      return op.finished ? op : null;
    });

  it("dry run: counts and samples sagas by status, type, step, error, failure group, time range and idle time", async () => {
    const dry = (action: "saga.redrive" | "saga.abort" | "saga.resume", filter: Record<string, unknown> = {}) => app.caller(viewer).admin.bulk.dryRun({ target: "saga", action, filter });
    expect((await dry("saga.redrive")).count).toBe(16); // failed + compensated, never completed
    expect((await dry("saga.redrive", { status: ["compensated"] })).count).toBe(4);
    expect((await dry("saga.redrive", { type: "file.upload" })).count).toBe(13);
    expect((await dry("saga.redrive", { currentStep: 1 })).count).toBe(4);
    expect((await dry("saga.redrive", { errorContains: "STORAGE" })).count).toBe(9);
    expect((await dry("saga.redrive", { errorContains: "%" })).count).toBe(0);
    expect((await dry("saga.redrive", { fingerprint: FP })).count).toBe(9);
    expect((await dry("saga.redrive", { from: new Date(Date.now() - 60_000) })).count).toBe(0);
    expect((await dry("saga.abort")).count).toBe(8);
    expect((await dry("saga.resume", { idleMinutes: 10 })).count).toBe(6);
    const sample = await dry("saga.redrive", { fingerprint: FP });
    expect(sample.target).toBe("saga");
    if (sample.target !== "saga") throw new Error("unreachable");
    expect(sample.sample).toHaveLength(9);
    expect(sample.sample.every((s) => s.type === "file.upload" && s.status === "failed" && s.currentStep === 0)).toBe(true);
  });

  it("answers bad saga filters with a 400 naming the problem", async () => {
    const api = app.caller(operator).admin.bulk;
    await expectTRPCError(api.dryRun({ target: "saga", action: "saga.abort", filter: { status: ["failed"] } }), "BAD_REQUEST", /abort applies to running sagas: the status filter leaves none/);
    await expectTRPCError(api.dryRun({ target: "saga", action: "outbox.retry" as never }), "BAD_REQUEST", /action must be saga.redrive, saga.abort or saga.resume/);
    await expectTRPCError(api.dryRun({ target: "queue" as never, action: "saga.redrive" as never }), "BAD_REQUEST", /target must be outbox or saga/);
    await expectTRPCError(api.dryRun({ target: "saga", action: "saga.redrive", filter: { currentStep: -1 } }), "BAD_REQUEST", /currentStep is a step index/);
    await expectTRPCError(api.dryRun({ target: "saga", action: "saga.resume", filter: { idleMinutes: 0 } }), "BAD_REQUEST", /idleMinutes is at least 1/);
    await expectTRPCError(api.dryRun({ target: "saga", action: "saga.redrive", filter: { from: new Date(), to: new Date(Date.now() - 1) } }), "BAD_REQUEST", /`from` must be before `to`/);
    await expectTRPCError(api.dryRun({ target: "saga", action: "saga.redrive", filter: { fingerprint: "xyz" } }), "BAD_REQUEST", /32 hex characters/);
    await expectTRPCError(api.start({ target: "saga", action: "saga.abort", dryRunCount: 8 }), "BAD_REQUEST", /bulk abort needs a reason/);
    await expectTRPCError(api.start({ target: "saga", action: "saga.abort", dryRunCount: 8, reason: "   " }), "BAD_REQUEST", /bulk abort needs a reason/);
  });

  it("is for viewers (read) and operators (act)", async () => {
    const input = { target: "saga" as const, action: "saga.redrive" as const };
    await expectTRPCError(app.caller(null).admin.bulk.dryRun(input), "UNAUTHORIZED");
    await expectTRPCError(app.caller(user).admin.bulk.dryRun(input), "FORBIDDEN");
    expect((await app.caller(viewer).admin.bulk.dryRun(input)).count).toBe(16);
    await expectTRPCError(app.caller(null).admin.bulk.start({ ...input, dryRunCount: 1 }), "UNAUTHORIZED");
    await expectTRPCError(app.caller(user).admin.bulk.start({ ...input, dryRunCount: 1 }), "FORBIDDEN");
    await expectTRPCError(app.caller(viewer).admin.bulk.start({ ...input, dryRunCount: 1 }), "FORBIDDEN");
  });

  it("redrive by filter: the worker redrives each saga once, in batches, with the one-saga operation's audit rows", async () => {
    const running = await worker();
    try {
      const filter = { fingerprint: FP };
      const { count } = await app.caller(operator).admin.bulk.dryRun({ target: "saga", action: "saga.redrive", filter });
      const started = await app.caller(operator).admin.bulk.start({ target: "saga", action: "saga.redrive", filter, dryRunCount: count, batchSize: 4, reason: "storage back" });
      expect(started).toMatchObject({ target: "saga", action: "saga.redrive", status: "pending", dryRunCount: 9 });
      expect(await finished(started.id)).toMatchObject({ status: "completed", examined: 9, affected: 9, batches: 3, progress: 1 });
      const sagas = await db().sagaInstance.findMany({ where: { failureFingerprint: FP } });
      expect(sagas.map((s) => [s.status, (s.context as { generation: number }).generation])).toEqual(Array(9).fill(["running", 1]));
      const audit = await db().operatorAudit.findMany({ where: { correlationId: started.id }, orderBy: { id: "asc" } });
      const actions = audit.map((r) => r.action);
      expect(actions[0]).toBe("bulk.start");
      expect(actions.at(-1)).toBe("bulk.complete");
      expect(actions.filter((a) => a === "saga.redrive")).toHaveLength(9);
      expect(audit.filter((r) => r.action === "bulk.batch").map((r) => [r.targetKind, r.affectedCount])).toEqual([["saga", 4], ["saga", 4], ["saga", 1]]);
      expect(audit.at(-1)).toMatchObject({ dryRunCount: 9, affectedCount: 9, outcome: "succeeded", reason: "storage back" });
    } finally {
      await running.close();
    }
  });

  it("abort (with its reason) and resume (stuck sagas): each only where the one-saga action applies", async () => {
    const running = await worker();
    try {
      const api = app.caller(operator).admin.bulk;
      const resumed = await api.start({ target: "saga", action: "saga.resume", filter: { idleMinutes: 10 }, dryRunCount: 6 });
      expect(await finished(resumed.id)).toMatchObject({ status: "completed", examined: 6, affected: 6 });
      // Their steps now have live jobs: a second resume finds nothing to queue.
      const again = await api.start({ target: "saga", action: "saga.resume", filter: { idleMinutes: 10 }, dryRunCount: 6 });
      expect(await finished(again.id)).toMatchObject({ status: "completed", examined: 6, affected: 0 });

      const aborted = await api.start({ target: "saga", action: "saga.abort", filter: { currentStep: 1, idleMinutes: 1 }, dryRunCount: 0, reason: "bad deploy" });
      expect(await finished(aborted.id)).toMatchObject({ status: "completed", examined: 0, affected: 0 });
      const stuck = await api.start({ target: "saga", action: "saga.abort", filter: { currentStep: 1 }, dryRunCount: 2, reason: "bad deploy" });
      expect(await finished(stuck.id)).toMatchObject({ status: "completed", examined: 2, affected: 2 });
      const rows = await db().sagaInstance.findMany({ where: { currentStep: 0, lastError: { startsWith: "Aborted by an operator: bad deploy" } } });
      expect(rows.map((r) => r.status)).toEqual(["compensating", "compensating"]);
    } finally {
      await running.close();
    }
  });
});
