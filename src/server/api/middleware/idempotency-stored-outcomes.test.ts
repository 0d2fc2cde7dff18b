/**
 * Issue 11, hole 8: an Idempotency-Key record may only hold an outcome the same request would get
 * again. A role check (FORBIDDEN) depends on who the caller is now, not on the request; a CONFLICT
 * that says "kept changing, try again" is transient by its own words. Neither may be replayed.
 * Through the real tRPC fetch handler, PostgreSQL and Redis of this file.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function mutate(procedure: string, user: SessionUser, key: string, input: unknown) {
  const res = await app.http(`/api/trpc/${procedure}`, {
    method: "POST",
    body: JSON.stringify({ json: input }),
    user,
    headers: { "content-type": "application/json", "Idempotency-Key": key },
  });
  return { status: res.status, replayed: res.headers.get("idempotent-replayed"), body: (await res.json()) as Json };
}

const records = (key: string) => app.services.db.idempotencyKey.findMany({ where: { key } });

/** A saga whose compensation failed: what admin.sagas.retryStep acts on. */
async function failedSaga() {
  const id = randomUUID();
  await app.services.db.sagaInstance.create({
    data: { id, type: "file.upload", status: "failed", currentStep: 1, input: {}, context: { generation: 0, outputs: {} }, lastError: "boom" },
  });
  return id;
}

describe("idempotency stores only outcomes the same request would get again", () => {
  it("a FORBIDDEN answer is not stored: once the role is granted, the same key executes", async () => {
    const viewer = await app.createUser({ role: "viewer" });
    const id = await failedSaga();
    const key = randomUUID();
    const refused = await mutate("admin.sagas.retryStep", viewer, key, { id });
    expect(refused.status).toBe(403);
    expect(refused.body.error.json.message).toMatch(/Only operators may do this/);
    expect(await records(key)).toEqual([]);

    await app.services.db.user.update({ where: { id: viewer.id }, data: { role: "operator" } });
    const granted = await mutate("admin.sagas.retryStep", viewer, key, { id });
    expect(granted.status).toBe(200);
    expect(granted.replayed).toBeNull();
    expect(granted.body.result.data.json).toEqual({ status: "compensating", stepIndex: 1 });
    expect((await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id } })).status).toBe("compensating");
  });

  it("a transient CONFLICT (the saga kept changing) is not stored: the retry with the same key executes", async () => {
    const operator = await app.createUser({ role: "operator" });
    const id = await failedSaga();
    // Every guarded write to this saga now matches no row, exactly as if a worker moved it each time.
    await app.services.db.$executeRawUnsafe(
      `CREATE RULE keeps_changing AS ON UPDATE TO saga_instance WHERE old.id = '${id}'::uuid DO INSTEAD NOTHING`,
    );
    const key = randomUUID();
    let busy;
    try {
      busy = await mutate("admin.sagas.retryStep", operator, key, { id });
    } finally {
      await app.services.db.$executeRawUnsafe(`DROP RULE keeps_changing ON saga_instance`);
    }
    expect(busy.status).toBe(409);
    expect(busy.body.error.json.message).toMatch(/kept changing while we acted on it/);
    expect(await records(key)).toEqual([]);

    const retry = await mutate("admin.sagas.retryStep", operator, key, { id });
    expect(retry.status).toBe(200);
    expect(retry.replayed).toBeNull();
    expect(retry.body.result.data.json).toEqual({ status: "compensating", stepIndex: 1 });
  });

  it("a deterministic CONFLICT (wrong saga status) is still stored and replayed", async () => {
    const operator = await app.createUser({ role: "operator" });
    const id = await failedSaga();
    await app.services.db.sagaInstance.update({ where: { id }, data: { status: "compensated" } });
    const key = randomUUID();
    const first = await mutate("admin.sagas.retryStep", operator, key, { id });
    expect(first.status).toBe(409);
    expect(await records(key)).toMatchObject([{ state: "completed", responseStatus: 409 }]);
    const again = await mutate("admin.sagas.retryStep", operator, key, { id });
    expect(again.replayed).toBe("true");
    expect(again.body).toEqual(first.body);
  });
});
