import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { createTestApp, type TestApp } from "~test/support/app";
import { createUsersOfEachRole } from "~test/support/roles";
import { expectTRPCError } from "~test/support/trpc-error";
import { recordOperatorAction, type TransactionOnly } from "~/server/reliability/audit";

/**
 * The audit log's invariants against real PostgreSQL, through the real routers: an action and its
 * audit row commit together or not at all; the table refuses every change; search filters and pages.
 */
let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
let user: SessionUser;

const db = () => app.services.db;
const append = (aggregateId: string) =>
  inTransaction(db(), (tx) => appendEvent(tx, { type: "file.tagged", aggregateId, payload: { fileId: aggregateId, ownerId: aggregateId, tags: ["x"] } }));
async function deadEvent(error = "consumer exploded") {
  const { id } = await append(randomUUID());
  await db().outboxEvent.update({ where: { id }, data: { status: "dead", attempts: 5, lastError: error, lastFailedAt: new Date() } });
  return id;
}
const auditRowsFor = (targetId: string) => db().operatorAudit.findMany({ where: { targetIds: { array_contains: [targetId] } }, orderBy: { id: "asc" } });

beforeAll(async () => {
  app = await createTestApp();
  ({ operator, viewer, user } = await createUsersOfEachRole(app));
});
afterAll(() => app.close());

describe("an operator action and its audit row commit together", () => {
  it("a retry writes one row with who, what, the reason and the affected count", async () => {
    const id = await deadEvent();
    const correlation = `req-${randomUUID()}`;
    const res = await app.http("/api/trpc/admin.outbox.retry", {
      method: "POST",
      user: operator,
      headers: { "content-type": "application/json", "x-request-id": correlation },
      body: JSON.stringify({ json: { id, reason: "broker is back" } }),
    });
    expect(res.status).toBe(200);
    const rows = await auditRowsFor(id);
    expect(rows).toEqual([
      expect.objectContaining({
        actorId: operator.id,
        actorEmail: operator.email,
        action: "outbox.retry",
        targetKind: "outbox_event",
        targetIds: [id],
        affectedCount: 1,
        reason: "broker is back",
        correlationId: correlation,
        outcome: "succeeded",
      }),
    ]);
  });

  it("a refused action leaves no audit row", async () => {
    const { id } = await append(randomUUID()); // pending: cannot be retried
    await expectTRPCError(app.caller(operator).admin.outbox.retry({ id, reason: "try" }), "CONFLICT", /is pending/);
    expect(await auditRowsFor(id)).toEqual([]);
  });

  it("an audit row that cannot be written rolls the action back", async () => {
    const id = await deadEvent();
    // Fault: this database refuses audit rows for one target (as a full disk or a bad row would).
    await db().$executeRawUnsafe(`
      CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.target_ids @> '["${id}"]' THEN RAISE EXCEPTION 'audit insert refused by the test'; END IF; RETURN NEW; END $$`);
    await db().$executeRawUnsafe(`CREATE TRIGGER refuse_audit BEFORE INSERT ON operator_audit FOR EACH ROW EXECUTE FUNCTION refuse_audit()`);
    try {
      for (const action of [() => app.caller(operator).admin.outbox.retry({ id }), () => app.caller(operator).admin.outbox.discard({ id, reason: "gone" })]) {
        await expectTRPCError(action(), "INTERNAL_SERVER_ERROR");
        expect((await db().outboxEvent.findUniqueOrThrow({ where: { id } })).status).toBe("dead");
      }
    } finally {
      await db().$executeRawUnsafe(`DROP TRIGGER refuse_audit ON operator_audit`);
      await db().$executeRawUnsafe(`DROP FUNCTION refuse_audit()`);
    }
    expect(await auditRowsFor(id)).toEqual([]);
  });

  it("refuses to record outside a transaction (the pooled client)", async () => {
    await expect(recordOperatorAction(db() as unknown as TransactionOnly, { actor: { id: null, email: "x@y" }, action: "outbox.retry", targetKind: "outbox_event" })).rejects.toThrow(
      /must be given the action's transaction client/,
    );
  });

  it("retry-all-matching records each batch with its count, under one correlation id", async () => {
    const marker = `MATCH-${randomUUID()}`;
    const ids = [await deadEvent(marker), await deadEvent(marker), await deadEvent(marker)];
    const result = await app.caller(operator).admin.outbox.retryMatching({ filter: { errorContains: marker }, batchSize: 2, reason: "bulk" });
    expect(result.retried).toBe(3);
    const rows = await db().operatorAudit.findMany({ where: { action: "outbox.retryMatching", reason: "bulk" } });
    expect(rows.map((r) => r.affectedCount).sort()).toEqual([1, 2]);
    expect(new Set(rows.map((r) => r.correlationId)).size).toBe(1);
    expect(rows.flatMap((r) => r.targetIds as string[]).sort()).toEqual([...ids].sort());
    expect(rows[0]!.filter).toEqual({ errorContains: marker });
  });

  it("cache flushes and the idempotency clean-up are recorded once done", async () => {
    await app.caller(operator).admin.cache.flushPrefix({ prefix: "files", reason: "stale listing" });
    await app.caller(operator).admin.cache.flushTag({ tag: "file:abc" });
    await app.caller(operator).admin.idempotency.deleteExpired({ reason: "housekeeping" });
    const rows = await db().operatorAudit.findMany({ where: { actorId: operator.id, action: { in: ["cache.flushPrefix", "cache.flushTag", "idempotency.deleteExpired"] } } });
    expect(rows.map((r) => [r.action, r.targetIds, r.reason]).sort()).toEqual(
      [
        ["cache.flushPrefix", ["files"], "stale listing"],
        ["cache.flushTag", ["file:abc"], null],
        ["idempotency.deleteExpired", [], "housekeeping"],
      ].sort(),
    );
  });

  it("saga actions write their row in the action's transaction; a refused one writes none", async () => {
    const saga = await db().sagaInstance.create({ data: { type: "retired.saga", status: "failed", input: {}, context: { generation: 0, outputs: {} } } });
    await expectTRPCError(app.caller(operator).admin.sagas.abort({ id: saga.id, reason: "not running" }), "CONFLICT");
    await expectTRPCError(app.caller(operator).admin.sagas.redrive({ id: saga.id }), "PRECONDITION_FAILED");
    expect(await auditRowsFor(saga.id)).toEqual([]);
  });
});

describe("the audit table is append-only", () => {
  it("refuses UPDATE, DELETE and TRUNCATE, whoever asks", async () => {
    const id = await deadEvent();
    await app.caller(operator).admin.outbox.retry({ id });
    const [row] = await auditRowsFor(id);
    await expect(db().$executeRaw`UPDATE operator_audit SET reason = 'edited' WHERE id = ${row!.id}::uuid`).rejects.toThrow(/append-only: UPDATE/);
    await expect(db().$executeRaw`DELETE FROM operator_audit WHERE id = ${row!.id}::uuid`).rejects.toThrow(/append-only: DELETE/);
    await expect(db().$executeRaw`TRUNCATE operator_audit`).rejects.toThrow(/append-only: TRUNCATE/);
    await expect(db().operatorAudit.deleteMany({})).rejects.toThrow(/append-only/);
    expect(await auditRowsFor(id)).toHaveLength(1);
  });
});

describe("admin.audit.search", () => {
  it("filters by actor, action, target id, text and time, newest first, keyset-paged", async () => {
    const other = await app.createUser({ role: "operator" });
    const a = await deadEvent();
    const b = await deadEvent();
    const before = new Date();
    await app.caller(other).admin.outbox.retry({ id: a, reason: "needle in the reason" });
    await app.caller(other).admin.outbox.discard({ id: b, reason: "haystack" });
    const api = app.caller(viewer).admin.audit;

    const byActor = await api.search({ actor: other.id });
    expect(byActor.items.map((r) => r.action)).toEqual(["outbox.discard", "outbox.retry"]);
    expect((await api.search({ actor: other.email.toUpperCase() })).items).toHaveLength(2);
    expect((await api.search({ actor: other.id, action: "outbox.retry" })).items.map((r) => r.targetIds)).toEqual([[a]]);
    expect((await api.search({ targetId: b })).items.map((r) => r.action)).toEqual(["outbox.discard"]);
    expect((await api.search({ text: "NEEDLE" })).items.map((r) => r.targetIds)).toEqual([[a]]);
    expect((await api.search({ actor: other.id, from: before })).items).toHaveLength(2);
    expect((await api.search({ actor: other.id, to: before })).items).toHaveLength(0);

    const page1 = await api.search({ actor: other.id, limit: 1 });
    const page2 = await api.search({ actor: other.id, limit: 1, cursor: page1.nextCursor! });
    expect([...page1.items, ...page2.items].map((r) => r.action)).toEqual(["outbox.discard", "outbox.retry"]);
    expect(page2.nextCursor).toBeNull();
  });

  it("is for viewers and operators; bad filters are a 400 naming the field", async () => {
    await expectTRPCError(app.caller(null).admin.audit.search({}), "UNAUTHORIZED");
    await expectTRPCError(app.caller(user).admin.audit.search({}), "FORBIDDEN");
    await expectTRPCError(app.caller(viewer).admin.audit.search({ action: "DROP TABLE" }), "BAD_REQUEST", /action/);
    await expectTRPCError(app.caller(viewer).admin.audit.search({ from: new Date(2), to: new Date(1) }), "BAD_REQUEST", /from.*before.*to/);
    await expectTRPCError(app.caller(viewer).admin.audit.search({ cursor: "nope" }), "BAD_REQUEST", /cursor/);
  });
});
