/**
 * admin.users over the real router, PostgreSQL and Redis: roles, revocation, one-time passwords,
 * and the last operator under concurrency. Two "instances" (each its own session cache on the real
 * Redis invalidation channel) show that a change applies at the user's next request everywhere.
 */
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { createWebInstance } from "~test/support/web-instance";
import { waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
const closers: Array<() => Promise<unknown>> = [];
const SECRET = "users-test-secret-users-test-secret-0123";

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await app.close();
});

const instance = (channel: string) => createWebInstance(app, { channel, secret: SECRET, closers });

async function code(p: Promise<unknown>) {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof TRPCError ? e.code : e;
}

async function operatorCount() {
  return app.services.db.user.count({ where: { role: "operator" } });
}

describe("admin.users", () => {
  it("a role change and a revocation apply at the user's next request on every instance", async () => {
    const channel = `users-test:${randomUUID()}`;
    const a = await instance(channel);
    const b = await instance(channel);
    const operator = await app.createUser({ role: "operator" });
    const viewer = await app.createUser({ role: "viewer" });
    const viewerCookie = await b.cookieFor(viewer.id);
    // Instance B has the viewer's session cached.
    expect((await b.call("admin.outbox.stats", viewerCookie)).status).toBe(200);
    expect((await b.call("admin.outbox.stats", viewerCookie)).status).toBe(200);

    const res = await a.call("admin.users.changeRole", await a.cookieFor(operator.id), { id: viewer.id, role: "user", reason: "left the on-call rota" });
    expect(res.status).toBe(200);
    // B drops its cached session when the invalidation message lands (PUBLISH was sent after the
    // commit, before A answered): from then on, B sees the new role. Without the message B would
    // keep the cached viewer for its 60 s TTL.
    const denied = await waitFor("instance B to see the new role", async () => {
      const r = await b.call("admin.outbox.stats", viewerCookie);
      return r.status === 403 ? r : null;
    }, 2_000);
    expect(await denied.text()).toMatch(/your role is user/);
    expect((await b.call("auth.me", viewerCookie)).status).toBe(200);

    expect((await a.call("admin.users.revokeSessions", await a.cookieFor(operator.id), { id: viewer.id })).status).toBe(200);
    await waitFor("instance B to sign the viewer out", async () => {
      const me = (await (await b.call("auth.me", viewerCookie)).json()) as { result: { data: { json: unknown } } };
      return me.result.data.json === null;
    }, 2_000);

    const audit = await app.services.db.operatorAudit.findMany({ where: { targetIds: { array_contains: [viewer.id] } }, orderBy: { at: "asc" } });
    expect(audit.map((r) => [r.action, r.actorId, r.filter, r.reason])).toEqual([
      ["user.changeRole", operator.id, { from: "viewer", to: "user" }, "left the on-call rota"],
      ["user.revokeSessions", operator.id, null, null],
    ]);
  });

  it("creates a user with a one-time password shown once, which signs in until it expires and must be replaced", async () => {
    const operator = await app.createUser({ role: "operator" });
    const email = `new-${randomUUID().slice(0, 8)}@test.local`;
    const created = await app.caller(operator).admin.users.create({ email: email.toUpperCase(), name: "New Person", role: "viewer" });
    expect(created).toMatchObject({ email, role: "viewer", oneTimePassword: expect.stringMatching(/^[\w-]{20}$/) });
    const row = await app.services.db.user.findUniqueOrThrow({ where: { email } });
    expect(row).toMatchObject({ role: "viewer", mustChangePassword: true });
    expect(row.passwordHash).not.toContain(created.oneTimePassword);
    // Nothing else keeps the password: not the audit row.
    const audit = await app.services.db.operatorAudit.findFirstOrThrow({ where: { action: "user.create", targetIds: { array_contains: [row.id] } } });
    expect(JSON.stringify(audit)).not.toContain(created.oneTimePassword);

    const signedIn = await app.caller(null).auth.signIn({ email, password: created.oneTimePassword });
    expect(signedIn).toMatchObject({ role: "viewer", mustChangePassword: true });
    expect(await code(app.caller(operator).admin.users.create({ email, name: "Again", role: "user" }))).toBe("CONFLICT");

    // Expired: the one-time password no longer signs in.
    await app.services.db.user.update({ where: { id: row.id }, data: { passwordExpiresAt: new Date(Date.now() - 1000) } });
    expect(await code(app.caller(null).auth.signIn({ email, password: created.oneTimePassword }))).toBe("UNAUTHORIZED");
    // Replaced (before expiry): the flag and the expiry are gone, the new password works.
    await app.services.db.user.update({ where: { id: row.id }, data: { passwordExpiresAt: new Date(Date.now() + 60_000) } });
    const self = { id: row.id, email, name: row.name, role: row.role };
    expect(await code(app.caller(self).auth.changePassword({ currentPassword: "wrong", newPassword: "a-new-long-password" }))).toBe("FORBIDDEN");
    await app.caller(self).auth.changePassword({ currentPassword: created.oneTimePassword, newPassword: "a-new-long-password" });
    expect(await app.caller(null).auth.signIn({ email, password: "a-new-long-password" })).toMatchObject({ mustChangePassword: false });
  });

  it("never leaves zero operators: the last one cannot demote themselves, and two operators demoting each other at once leave one", async () => {
    // Only the operators of this test may exist for the count to mean something.
    await app.services.db.user.updateMany({ where: { role: "operator" }, data: { role: "user" } });
    const x = await app.createUser({ role: "operator" });
    const y = await app.createUser({ role: "operator" });
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled([
        app.caller(x).admin.users.changeRole({ id: y.id, role: "user" }),
        app.caller(y).admin.users.changeRole({ id: x.id, role: "viewer" }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(refused.reason).toBeInstanceOf(TRPCError);
      expect((refused.reason as TRPCError).code).toBe("CONFLICT");
      expect((refused.reason as TRPCError).message).toMatch(/last operator/);
      expect(await operatorCount()).toBe(1);
      // Put both back for the next round.
      await app.services.db.user.updateMany({ where: { id: { in: [x.id, y.id] } }, data: { role: "operator" } });
    }
    await app.services.db.user.update({ where: { id: y.id }, data: { role: "user" } });
    expect(await code(app.caller(x).admin.users.changeRole({ id: x.id, role: "viewer" }))).toBe("CONFLICT");
    expect(await operatorCount()).toBe(1);
  });

  it("refuses viewers' actions and bad input with clear 4xx", async () => {
    const viewer = await app.createUser({ role: "viewer" });
    const operator = await app.createUser({ role: "operator" });
    expect((await app.caller(viewer).admin.users.list({})).items.length).toBeGreaterThan(0);
    expect(await code(app.caller(viewer).admin.users.changeRole({ id: operator.id, role: "user" }))).toBe("FORBIDDEN");
    expect(await code(app.caller(null).admin.users.list({}))).toBe("UNAUTHORIZED");
    expect(await code(app.caller(operator).admin.users.changeRole({ id: randomUUID(), role: "user" }))).toBe("NOT_FOUND");
    expect(await code(app.caller(operator).admin.users.changeRole({ id: viewer.id, role: "root" as never }))).toBe("BAD_REQUEST");
    expect(await code(app.caller(operator).admin.users.create({ email: "not an email", name: "x", role: "user" }))).toBe("BAD_REQUEST");
  });
});
