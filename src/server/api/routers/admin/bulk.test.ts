import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { runBulkBatch } from "~/server/reliability/bulk/operations";
import { createTestApp, type TestApp } from "~test/support/app";
import { createUsersOfEachRole } from "~test/support/roles";
import { expectTRPCError } from "~test/support/trpc-error";
import { seedOutboxEvents } from "~test/support/bulk";
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
