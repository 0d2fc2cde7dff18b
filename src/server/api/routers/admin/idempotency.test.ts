import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { expectTRPCError } from "~test/support/trpc-error";

let app: TestApp;
let user: SessionUser;
let viewer: SessionUser;
let operator: SessionUser;

beforeAll(async () => {
  app = await createTestApp();
  user = await app.createUser();
  viewer = await app.createUser({ role: "viewer" });
  operator = await app.createUser({ role: "operator" });
});
afterAll(() => app.close());

function upload(key: string, content: string) {
  const body = new FormData();
  body.append("file", new File([content], "stats.txt", { type: "text/plain" }));
  return app.http("/api/trpc/files.upload", { method: "POST", body, user, headers: { "Idempotency-Key": key } });
}

describe("admin.idempotency", () => {
  it("counts keyed requests, executions, replays, 409s, 422s and 400s, with the hit rate, per procedure too", async () => {
    const before = await app.caller(viewer).admin.idempotency.stats({});
    const key = randomUUID();
    expect((await upload(key, "a")).status).toBe(200); // executed
    expect((await upload(key, "a")).status).toBe(200); // replayed
    expect((await upload(key, "a")).status).toBe(200); // replayed
    expect((await upload(key, "b")).status).toBe(422); // mismatch
    expect((await upload("", "a")).status).toBe(400); // malformed
    // 409: a claim whose owner is still running (a fresh in_progress record with a live lease).
    const busy = randomUUID();
    await app.services.db.$executeRaw`
      INSERT INTO idempotency_key (id, scope, key, fingerprint, state, lease_until, claim_token, expires_at)
      SELECT gen_random_uuid(), ${`${user.id}:files.upload`}, ${busy}, fingerprint, 'in_progress', now() + interval '1 minute', gen_random_uuid(), now() + interval '1 day'
      FROM idempotency_key WHERE key = ${key}`;
    expect((await upload(busy, "a")).status).toBe(409);

    const after = await app.caller(viewer).admin.idempotency.stats({});
    const delta = Object.fromEntries(Object.entries(after.counters).map(([k, v]) => [k, v - before.counters[k as keyof typeof before.counters]]));
    expect(delta).toEqual({ requests: 5, executed: 1, replayed: 2, conflicts: 1, mismatches: 1, malformed: 1, storedErrors: 0, released: 0, recovered: 0 });
    expect(after.hitRate).toBeCloseTo(after.counters.replayed / after.counters.requests);
    expect(after.byProcedure.find((p) => p.procedure === "files.upload")).toMatchObject({ replayed: after.counters.replayed });
    expect(after.records.inProgress).toBeGreaterThanOrEqual(1);
    expect(after.records.completed).toBeGreaterThanOrEqual(1);
    expect(after.window).toBe("all time");

    const lastHour = await app.caller(viewer).admin.idempotency.stats({ hours: 1 });
    expect(lastHour.window).toBe("last 1 h");
    expect(lastHour.counters.replayed).toBeGreaterThanOrEqual(2);
  });

  it("finds records by key with the stored result a replay would answer, and filters by user, procedure and state", async () => {
    const key = randomUUID();
    const created = ((await (await upload(key, "find me")).json()) as { result: { data: { json: { id: string } } } }).result.data.json;
    const { items, nextCursor } = await app.caller(operator).admin.idempotency.records({ key });
    expect(nextCursor).toBeNull();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ key, userId: user.id, procedure: "files.upload", state: "completed", responseStatus: 200 });
    expect(items[0]!.outcome).toMatchObject({ type: "data", data: { id: created.id, name: "stats.txt" } });
    expect((items[0]!.outcome as { data: { createdAt: unknown } }).data.createdAt).toBeInstanceOf(Date);

    expect((await app.caller(viewer).admin.idempotency.records({ key, userId: viewer.id })).items).toHaveLength(0);
    expect((await app.caller(viewer).admin.idempotency.records({ key, procedure: "files.rename" })).items).toHaveLength(0);
    expect((await app.caller(viewer).admin.idempotency.records({ key, state: "in_progress" })).items).toHaveLength(0);

    const page1 = await app.caller(viewer).admin.idempotency.records({ userId: user.id, limit: 1 });
    expect(page1.items).toHaveLength(1);
    const page2 = await app.caller(viewer).admin.idempotency.records({ userId: user.id, limit: 1, cursor: page1.nextCursor! });
    expect(page2.items[0]!.id < page1.items[0]!.id).toBe(true);
  });

  it("lets operators delete expired records now; viewers may read but not act; users may not read", async () => {
    await app.services.db.idempotencyKey.updateMany({ where: { scope: { startsWith: `${user.id}:` } }, data: { expiresAt: new Date(Date.now() - 1) } });
    const expired = (await app.caller(viewer).admin.idempotency.stats({})).records.expired;
    expect(expired).toBeGreaterThan(0);
    await expectTRPCError(app.caller(viewer).admin.idempotency.deleteExpired({}), "FORBIDDEN", /Only operators/);
    expect(await app.caller(operator).admin.idempotency.deleteExpired({ batchSize: 1 })).toEqual({ deleted: expired, batches: expired + 1 });
    expect((await app.caller(viewer).admin.idempotency.stats({})).records.expired).toBe(0);
    await expectTRPCError(app.caller(user).admin.idempotency.stats({}), "FORBIDDEN", /viewers and operators/);
  });

  it.each([
    ["hours 0", { hours: 0 }, /hours must be at least 1/],
    ["hours over a week", { hours: 1000 }, /at most 168/],
  ])("rejects stats with %s", async (_label, input, message) => {
    await expectTRPCError(app.caller(viewer).admin.idempotency.stats(input), "BAD_REQUEST", message);
  });

  it.each([
    ["an empty key", { key: "" }, /cannot be empty/],
    ["a key over 255 characters", { key: "k".repeat(256) }, /at most 255/],
    ["a userId that is not a UUID", { userId: "bob" }, /userId must be a user id/],
    ["a malformed procedure", { procedure: "files upload!" }, /procedure is a path/],
    ["a bad cursor", { cursor: "page-2" }, /cursor must be the id/],
    ["an unknown state", { state: "done" }, /state/],
  ])("rejects a records search with %s", async (_label, input, message) => {
    await expectTRPCError(app.caller(viewer).admin.idempotency.records(input as never), "BAD_REQUEST", message);
  });
});
