/**
 * `npm run user:reset-password -- --email x` (scripts/user-reset-password.ts), run as the operator
 * runs it: a child process on the test app's database and Redis. Checks what a reset must leave:
 * the old password refused, the printed one-time password accepted (and a new password required),
 * every session issued before refused, one audit row by the actor "cli"; and nothing written for
 * an unknown email or bad usage.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "~/server/auth/passwords";
import { createTestApp, type TestApp } from "~test/support/app";
import { childEnvFor } from "~test/support/child-process";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app?.close());

function runReset(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, ["scripts/user-reset-password.ts", ...args], { cwd: ROOT, env: childEnvFor(app), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const auditRows = (userId?: string) =>
  app.services.db.operatorAudit.findMany({
    where: { action: "user.resetPassword", ...(userId ? { targetIds: { equals: [userId] } } : {}) },
    select: { actorId: true, actorEmail: true, targetKind: true, targetIds: true, reason: true, affectedCount: true, outcome: true },
  });

describe("npm run user:reset-password", () => {
  it("prints a one-time password, ends every session of the account, refuses the old password and audits the reset as cli", { timeout: 60_000 }, async () => {
    const oldPassword = "the-old-password-1234";
    const user = await app.services.db.user.create({
      data: { email: "locked-out@test.local", name: "Locked Out", role: "operator", passwordHash: await hashPassword(oldPassword) },
    });
    const cookie = await app.services.sessions.seal(user);
    expect(await app.services.sessions.resolve(cookie)).toMatchObject({ id: user.id });

    const run = await runReset(["--email", "  Locked-Out@Test.Local ", "--reason", "lost the only operator password"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const oneTimePassword = run.stdout.trim().split("\n").at(-1)!;
    expect(oneTimePassword).toMatch(/^[A-Za-z0-9_-]{20}$/);

    // The session issued before the reset is over (the script told every instance's session cache).
    expect(await app.services.sessions.resolve(cookie)).toBeNull();
    expect(await app.services.sessions.authenticate(user.email, oldPassword)).toBeNull();
    expect(await app.services.sessions.authenticate(user.email, oneTimePassword)).toMatchObject({ id: user.id, mustChangePassword: true, sessionVersion: user.sessionVersion + 1 });
    const after = await app.services.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { passwordExpiresAt: true, role: true } });
    expect(after.role).toBe("operator");
    expect(after.passwordExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);

    expect(await auditRows(user.id)).toEqual([
      {
        actorId: null,
        actorEmail: "cli",
        targetKind: "user",
        targetIds: [user.id],
        reason: expect.stringMatching(/^npm run user:reset-password by .+@.+: lost the only operator password$/),
        affectedCount: 1,
        outcome: "succeeded",
      },
    ]);
  });

  // Each run is a tsx child process (seconds on a busy machine): a patient timeout.
  it("an unknown email changes nothing and exits 1 saying so; bad usage exits 2", { timeout: 90_000 }, async () => {
    const before = (await auditRows()).length;
    const unknown = await runReset(["--email", "nobody@test.local"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No user has the email nobody@test.local");
    expect(unknown.stdout).toBe("");

    const missing = await runReset([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--email is required");
    const notAnEmail = await runReset(["--email", "not-an-email"]);
    expect(notAnEmail.code).toBe(2);
    expect(notAnEmail.stderr).toContain("not an email address");
    expect((await auditRows()).length).toBe(before);
  });
});
