/**
 * Revoking sessions is audited in the revocation's own transaction, whoever does it: a user signing
 * out everywhere (auth.signOutEverywhere) and an operator revoking a user's sessions
 * (admin.users.revokeSessions). Over the real HTTP handler and PostgreSQL; the "same transaction"
 * claim is checked by injecting a failure into the audit insert (a trigger on this test's database)
 * and seeing the revocation roll back with it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

const sessionVersion = async (id: string) => (await app.services.db.user.findUniqueOrThrow({ where: { id }, select: { sessionVersion: true } })).sessionVersion;
const auditRowsFor = (id: string) =>
  app.services.db.operatorAudit.findMany({ where: { targetIds: { array_contains: [id] } }, orderBy: { id: "asc" } });

function post(path: string, user: { id: string; email: string; name: string; role: "user" | "viewer" | "operator" }, input: unknown, requestId: string) {
  return app.http(`/api/trpc/${path}`, {
    method: "POST",
    user,
    headers: { "content-type": "application/json", origin: "http://localhost", "x-request-id": requestId },
    body: JSON.stringify({ json: input }),
  });
}

/** Makes every audit insert of a revocation fail, as a full disk or a broken constraint would. */
async function failRevocationAudits<T>(run: () => Promise<T>): Promise<T> {
  await app.services.db.$executeRawUnsafe(`
    CREATE OR REPLACE FUNCTION test_fail_revocation_audit() RETURNS trigger AS $$
    BEGIN
      IF NEW.action = 'user.revokeSessions' THEN RAISE EXCEPTION 'injected audit failure'; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql`);
  await app.services.db.$executeRawUnsafe(
    `CREATE TRIGGER test_fail_revocation_audit BEFORE INSERT ON operator_audit FOR EACH ROW EXECUTE FUNCTION test_fail_revocation_audit()`,
  );
  try {
    return await run();
  } finally {
    await app.services.db.$executeRawUnsafe(`DROP TRIGGER test_fail_revocation_audit ON operator_audit`);
  }
}

describe("signing out everywhere is audited in its transaction", () => {
  it("a user signing out everywhere bumps the session version and writes an audit row naming the user, the cause and the request id", async () => {
    const user = await app.createUser();
    const before = await sessionVersion(user.id);
    const res = await post("auth.signOutEverywhere", user, undefined, "req-sign-out-everywhere-1");
    expect(res.status).toBe(200);
    expect(await sessionVersion(user.id)).toBe(before + 1);
    const rows = await auditRowsFor(user.id);
    expect(rows.map((r) => ({ action: r.action, actorId: r.actorId, actorEmail: r.actorEmail, targetKind: r.targetKind, filter: r.filter, affectedCount: r.affectedCount, correlationId: r.correlationId }))).toEqual([
      { action: "user.revokeSessions", actorId: user.id, actorEmail: user.email, targetKind: "user", filter: { cause: "signOutEverywhere" }, affectedCount: 1, correlationId: "req-sign-out-everywhere-1" },
    ]);
    // The old cookie no longer signs in.
    const me = (await (await app.http("/api/trpc/auth.me", { user })).json()) as { result: { data: { json: unknown } } };
    expect(me.result.data.json).toBeNull();
  });

  it("an operator revoking a user's sessions writes an audit row with the operator as actor and the reason typed", async () => {
    const operator = await app.createUser({ role: "operator" });
    const user = await app.createUser();
    const res = await post("admin.users.revokeSessions", operator, { id: user.id, reason: "laptop stolen" }, "req-revoke-1");
    expect(res.status).toBe(200);
    const rows = await auditRowsFor(user.id);
    expect(rows.map((r) => [r.action, r.actorId, r.reason, r.filter, r.correlationId])).toEqual([["user.revokeSessions", operator.id, "laptop stolen", null, "req-revoke-1"]]);
  });

  it("when the audit insert fails, the sign-out rolls back: the session version is unchanged and the caller gets a 500, not a silent success", async () => {
    const user = await app.createUser();
    const before = await sessionVersion(user.id);
    const res = await failRevocationAudits(() => post("auth.signOutEverywhere", user, undefined, "req-sign-out-fails"));
    expect(res.status).toBe(500);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await sessionVersion(user.id)).toBe(before);
    expect(await auditRowsFor(user.id)).toEqual([]);
  });

  it("when the audit insert fails, an operator's revocation rolls back too", async () => {
    const operator = await app.createUser({ role: "operator" });
    const user = await app.createUser();
    const before = await sessionVersion(user.id);
    const res = await failRevocationAudits(() => post("admin.users.revokeSessions", operator, { id: user.id }, "req-revoke-fails"));
    expect(res.status).toBe(500);
    expect(await sessionVersion(user.id)).toBe(before);
    expect(await auditRowsFor(user.id)).toEqual([]);
  });
});
