import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBulkBatch } from "~/server/reliability/bulk/operations";
import type { BulkSagaActions } from "~/server/reliability/bulk/saga-target";
import { createTestApp, type TestApp } from "~test/support/app";
import { seedSagas } from "~test/support/bulk";

/**
 * One batch of a bulk action on sagas is ONE transaction: the sagas it acts on (through the real
 * one-saga operations), the operation's cursor and counts, and the audit rows commit together or
 * not at all. Faults are injected into the real operations, against PostgreSQL and Redis.
 */
let app: TestApp;
let seeded: string[] = [];
const db = () => app.services.db;

beforeAll(async () => {
  app = await createTestApp();
  await seedSagas(db(), { count: 5, status: "failed", error: "step store-blob: batch test" });
  // A type this server does not know: the one-saga redrive refuses it, so the batch skips it.
  await seedSagas(db(), { count: 1, status: "failed", type: "file.retired", error: "step x: batch test", offset: 1 });
  seeded = (await db().sagaInstance.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((s) => s.id);
});
afterAll(() => app.close());

async function startOperation(batchSize: number) {
  const operator = await app.createUser({ role: "operator" });
  return app.caller(operator).admin.bulk.start({ target: "saga", action: "saga.redrive", filter: { errorContains: "batch test" }, dryRunCount: 6, batchSize, reason: "batch test" });
}

const generations = async () =>
  (await db().sagaInstance.findMany({ where: { id: { in: seeded } }, orderBy: { id: "asc" } })).map((s) => (s.context as { generation: number }).generation);

describe("a bulk batch on sagas", () => {
  it("rolls back whole when acting fails part-way: no saga redriven, cursor and counts unmoved, no audit row", async () => {
    const op = await startOperation(10);
    const real = app.services.sagas;
    let calls = 0;
    const faulty: BulkSagaActions = {
      ...real,
      // The third saga's redrive fails after two redrives were written in the batch's transaction.
      redrive: async (id, audit) => {
        calls += 1;
        if (calls === 3) throw new Error("injected fault: the database connection dropped");
        return real.redrive(id, audit);
      },
    };
    await expect(runBulkBatch(db(), op.id, { sagas: faulty })).rejects.toThrow(/injected fault/);
    expect(calls).toBe(3);
    expect(await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } })).toMatchObject({ status: "pending", cursor: null, examined: 0, affected: 0, batches: 0 });
    expect(await db().sagaInstance.count({ where: { status: "running" } })).toBe(0);
    expect(await generations()).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await db().operatorAudit.findMany({ where: { correlationId: op.id } })).map((r) => r.action)).toEqual(["bulk.start"]);

    // A runner without the saga operations refuses, and changes nothing either.
    await expect(runBulkBatch(db(), op.id)).rejects.toThrow(/without the saga operations/);

    // The same batch with working operations commits whole; a saga the redrive refuses is skipped.
    expect(await runBulkBatch(db(), op.id, { sagas: real })).toEqual({ done: false, examined: 6, affected: 5 });
    expect(await runBulkBatch(db(), op.id, { sagas: real })).toEqual({ done: true, status: "completed" });
    const done = await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } });
    expect(done).toMatchObject({ status: "completed", examined: 6, affected: 5, batches: 1 });
    expect(await generations()).toEqual([0, 1, 1, 1, 1, 1]); // the unknown type (seeded earliest) was skipped
    const audit = await db().operatorAudit.findMany({ where: { correlationId: op.id }, orderBy: { id: "asc" } });
    expect(audit.map((r) => r.action)).toEqual(["bulk.start", ...Array(5).fill("saga.redrive"), "bulk.batch", "bulk.complete"]);
    expect(audit.find((r) => r.action === "bulk.batch")).toMatchObject({ targetKind: "saga", affectedCount: 5 });
    expect((audit.find((r) => r.action === "bulk.batch")!.targetIds as string[]).length).toBe(6);
  });

  it("runs again over what is left, and a run of a finished operation does nothing (a duplicate job is harmless)", async () => {
    const op = await startOperation(2);
    // Only the saga of the unknown type still matches (the others run again): examined, skipped.
    expect(await runBulkBatch(db(), op.id, { sagas: app.services.sagas })).toEqual({ done: false, examined: 1, affected: 0 });
    expect(await runBulkBatch(db(), op.id, { sagas: app.services.sagas })).toEqual({ done: true, status: "completed" });
    expect(await runBulkBatch(db(), op.id, { sagas: app.services.sagas })).toEqual({ done: true, status: "completed" });
    expect(await generations()).toEqual([0, 1, 1, 1, 1, 1]); // the unknown type (seeded earliest) was skipped
  });
});
