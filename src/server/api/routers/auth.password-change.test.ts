/**
 * The one-time password flow over the real HTTP handler, PostgreSQL and Redis: a session that still
 * holds an operator-issued one-time password is refused by every procedure and route except reading
 * itself, changing the password and signing out; once the password is changed the SAME cookie works
 * at once on this instance and, through the session cache's invalidation channel, on another one
 * that had the flagged session cached. A one-time password stops signing in after its window.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MIN_PASSWORD_LENGTH, PASSWORD_CHANGE_REQUIRED_MESSAGE } from "~/server/auth/password-rules";
import { SESSION_COOKIE } from "~/server/auth/session";
import { ONE_TIME_PASSWORD_TTL_MS } from "~/server/features/users/user-admin";
import { createTestApp, type TestApp } from "~test/support/app";
import { createWebInstance } from "~test/support/web-instance";
import { waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
const closers: Array<() => Promise<unknown>> = [];
const SECRET = "password-change-secret-password-change-0";

beforeAll(async () => {
  app = await createTestApp();
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await app.close();
});

const instance = (channel: string) => createWebInstance(app, { channel, secret: SECRET, closers });

type Instance = Awaited<ReturnType<typeof instance>>;

async function body(res: Response) {
  return (await res.json()) as { result?: { data: { json: unknown } }; error?: { json: { message: string; data: { code: string } } } };
}

/** Sign in over HTTP as a browser would; the session cookie it was given. */
async function signIn(on: Instance, email: string, password: string) {
  const res = await on.call("auth.signIn", "", { email, password });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get("set-cookie") ?? "";
  const value = setCookie.split(";")[0]!;
  expect(value.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
  return { cookie: value, user: (await body(res)).result!.data.json as { mustChangePassword: boolean } };
}

/** The session cookie a response sets ("name=value"). */
function sessionCookieOf(res: Response): string {
  const value = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
  expect(value.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
  return value;
}

async function expectRefusedForPasswordChange(res: Response) {
  expect(res.status).toBe(403);
  const { error } = await body(res);
  expect(error!.json.data.code).toBe("FORBIDDEN");
  expect(error!.json.message).toBe(PASSWORD_CHANGE_REQUIRED_MESSAGE);
}

async function createWithOneTimePassword(role: "user" | "viewer" | "operator") {
  const operator = await app.createUser({ role: "operator" });
  const email = `otp-${randomUUID().slice(0, 8)}@test.local`;
  const created = await app.caller(operator).admin.users.create({ email, name: "One Time", role, reason: "new colleague" });
  return { ...created, operator };
}

describe("one-time password sessions", () => {
  it("are refused everywhere but me / changePassword / signOut until the password changes, then work at once on every instance", async () => {
    const channel = `password-change-test:${randomUUID()}`;
    const a = await instance(channel);
    const b = await instance(channel);
    const created = await createWithOneTimePassword("viewer");
    const { cookie, user } = await signIn(a, created.email, created.oneTimePassword);
    expect(user.mustChangePassword).toBe(true);

    // Reading the session is allowed (twice on each instance: the second answer comes from its cache).
    for (const on of [a, b, a, b]) {
      const me = await on.call("auth.me", cookie);
      expect(me.status).toBe(200);
      expect((await body(me)).result!.data.json).toMatchObject({ email: created.email, mustChangePassword: true });
    }
    // Every other kind of procedure (user, viewer, public) and route refuses, with the reason.
    for (const on of [a, b]) {
      await expectRefusedForPasswordChange(await on.call("files.list", cookie));
      await expectRefusedForPasswordChange(await on.call("admin.outbox.stats", cookie));
      await expectRefusedForPasswordChange(await on.call("health.ping", cookie));
      await expectRefusedForPasswordChange(await on.call("auth.signOutEverywhere", cookie, {}));
      const download = await on.download(randomUUID(), cookie);
      expect(download.status).toBe(403);
      expect(await download.json()).toEqual({ error: PASSWORD_CHANGE_REQUIRED_MESSAGE });
    }
    await expectRefusedForPasswordChange(await a.call("admin.users.create", cookie, { email: `x-${randomUUID()}@test.local`, name: "x", role: "operator" }));

    // Bad new passwords: a 400 that says what to fix, and the account stays locked.
    const short = await a.call("auth.changePassword", cookie, { currentPassword: created.oneTimePassword, newPassword: "short" });
    expect(short.status).toBe(400);
    expect((await body(short)).error!.json.message).toContain(`at least ${MIN_PASSWORD_LENGTH} characters`);
    const same = await a.call("auth.changePassword", cookie, { currentPassword: created.oneTimePassword, newPassword: created.oneTimePassword });
    expect(same.status).toBe(400);
    expect((await body(same)).error!.json.message).toMatch(/must differ/);
    await expectRefusedForPasswordChange(await a.call("files.list", cookie));

    const changed = await a.call("auth.changePassword", cookie, { currentPassword: created.oneTimePassword, newPassword: "my-own-long-password" });
    expect(changed.status).toBe(200);
    // The change re-issues this session's cookie (every cookie issued before is revoked):
    // with it, this instance allows everything at once (the change dropped its cached entry).
    const renewed = sessionCookieOf(changed);
    expect(renewed).not.toBe(cookie);
    expect((await a.call("files.list", renewed)).status).toBe(200);
    expect((await a.call("admin.outbox.stats", renewed)).status).toBe(200);
    expect((await a.call("auth.me", cookie)).status).toBe(200);
    expect((await body(await a.call("auth.me", cookie))).result!.data.json).toBeNull();
    // Instance B had the flagged session cached for 60 s: the invalidation message ends it.
    await waitFor("instance B to drop the flagged session", async () => ((await b.call("admin.outbox.stats", renewed)).status === 200 ? true : null), 2_000);
    expect((await body(await b.call("auth.me", renewed))).result!.data.json).toMatchObject({ mustChangePassword: false });
    expect((await b.call("files.list", cookie)).status).toBe(401);

    // The one-time password is gone; the new one signs in without the flag.
    expect((await a.call("auth.signIn", "", { email: created.email, password: created.oneTimePassword })).status).toBe(401);
    expect((await signIn(a, created.email, "my-own-long-password")).user.mustChangePassword).toBe(false);
  });

  it("signOut works for a flagged session", async () => {
    const a = await instance(`password-change-test:${randomUUID()}`);
    const created = await createWithOneTimePassword("user");
    const { cookie } = await signIn(a, created.email, created.oneTimePassword);
    const out = await a.call("auth.signOut", cookie, {});
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0/);
  });

  it("a one-time password signs in until its window ends, and not after", async () => {
    const a = await instance(`password-change-test:${randomUUID()}`);
    const created = await createWithOneTimePassword("user");
    const issuedAt = Date.now();
    // Only Date is faked: PostgreSQL, Redis and the handler keep their real timers.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(issuedAt + ONE_TIME_PASSWORD_TTL_MS - 60_000);
    expect((await signIn(a, created.email, created.oneTimePassword)).user.mustChangePassword).toBe(true);
    vi.setSystemTime(issuedAt + ONE_TIME_PASSWORD_TTL_MS + 1_000);
    const expired = await a.call("auth.signIn", "", { email: created.email, password: created.oneTimePassword });
    expect(expired.status).toBe(401);
    expect((await body(expired)).error!.json.message).toBe("Email or password is wrong");
  });
});

describe("changing a password", () => {
  it("signs out every other session of the user at once on every instance, keeps the current one, and is audit-logged", async () => {
    const channel = `password-change-test:${randomUUID()}`;
    const a = await instance(channel);
    const b = await instance(channel);
    const email = `two-sessions-${randomUUID().slice(0, 8)}@test.local`;
    const user = await app.createUser({ email, password: "first-password-123" });
    const bystander = await app.createUser({ password: "bystander-password" });
    // Two real sessions of one user (a laptop signed in through A, a phone through B), and another user's.
    const laptop = (await signIn(a, email, "first-password-123")).cookie;
    const phone = (await signIn(b, email, "first-password-123")).cookie;
    const other = (await signIn(a, bystander.email, "bystander-password")).cookie;
    // Every session resolved twice on both instances: each is now served from their session caches.
    for (const on of [a, b, a, b]) {
      for (const cookie of [laptop, phone, other]) expect((await on.call("files.list", cookie)).status).toBe(200);
    }

    const changed = await a.call("auth.changePassword", laptop, { currentPassword: "first-password-123", newPassword: "second-password-456" });
    expect(changed.status).toBe(200);
    const renewed = sessionCookieOf(changed);

    // The phone's session is refused at once: on A (it published and dropped its own entries before
    // answering) and on B as soon as the message arrives.
    expect((await a.call("files.list", phone)).status).toBe(401);
    await waitFor("instance B to refuse the revoked session", async () => ((await b.call("files.list", phone)).status === 401 ? true : null), 2_000);
    expect((await body(await b.call("auth.me", phone))).result!.data.json).toBeNull();
    // The cookie the laptop held before is revoked too; the one the change handed back carries on everywhere.
    for (const on of [a, b]) {
      expect((await on.call("files.list", laptop)).status).toBe(401);
      expect((await on.call("files.list", renewed)).status).toBe(200);
      expect((await body(await on.call("auth.me", renewed))).result!.data.json).toMatchObject({ id: user.id, email });
      // Another user's session is untouched.
      expect((await on.call("files.list", other)).status).toBe(200);
    }
    // The revoked phone signs in again with the new password only.
    expect((await b.call("auth.signIn", "", { email, password: "first-password-123" })).status).toBe(401);
    await signIn(b, email, "second-password-456");

    // Audited like an operator's revocation, with the user as the actor.
    const rows = await app.services.db.operatorAudit.findMany({ where: { actorId: user.id } });
    expect(rows.map((r) => ({ action: r.action, targetIds: r.targetIds, actorEmail: r.actorEmail, targetKind: r.targetKind, filter: r.filter, affectedCount: r.affectedCount, outcome: r.outcome }))).toEqual([
      { action: "user.revokeSessions", targetIds: [user.id], actorEmail: email, targetKind: "user", filter: { cause: "passwordChanged", keptCurrentSession: true }, affectedCount: 1, outcome: "succeeded" },
    ]);
  });

  it("with a wrong current password changes nothing: no session is revoked and nothing is audited", async () => {
    const a = await instance(`password-change-test:${randomUUID()}`);
    const email = `wrong-current-${randomUUID().slice(0, 8)}@test.local`;
    const user = await app.createUser({ email, password: "first-password-123" });
    const laptop = (await signIn(a, email, "first-password-123")).cookie;
    const phone = (await signIn(a, email, "first-password-123")).cookie;
    const refused = await a.call("auth.changePassword", laptop, { currentPassword: "not-the-password", newPassword: "second-password-456" });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("set-cookie")).toBeNull();
    for (const cookie of [laptop, phone]) expect((await a.call("files.list", cookie)).status).toBe(200);
    expect(await app.services.db.operatorAudit.count({ where: { actorId: user.id } })).toBe(0);
  });
});
