/**
 * admin.sagas.resume when Redis does not answer in time (a real private redis-server, frozen with
 * SIGSTOP or busy in DEBUG SLEEP): the operator gets 503 SERVICE_UNAVAILABLE with a message to act
 * on and a Retry-After header, never a generic 500; nothing is audited (nothing happened); and the
 * same call succeeds once Redis answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS } from "~/server/api/http/retry-after";
import { FILE_UPLOAD_SAGA } from "~/server/features/files/upload-saga";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";

let redis: PrivateRedis;
let app: TestApp;
let operator: SessionUser;

beforeAll(async () => {
  // Redis 7 refuses DEBUG unless enabled.
  redis = await startPrivateRedis({ args: ["--enable-debug-command", "yes"] });
  app = await createTestApp({ redisUrl: redis.url });
  operator = await app.createUser({ role: "operator" });
});
afterAll(async () => {
  redis.resume();
  await app.close();
  await redis.close();
});

/** A running upload saga at step 0 with no job in Redis: what "stuck" looks like. */
async function runningSaga() {
  const saga = await app.services.db.sagaInstance.create({
    data: { type: FILE_UPLOAD_SAGA, status: "running", input: {}, context: { generation: 0, outputs: {} } },
  });
  return saga.id;
}

function resume(id: string) {
  return app.http("/api/trpc/admin.sagas.resume", {
    method: "POST",
    user: operator,
    headers: { "content-type": "application/json", origin: "http://localhost" },
    body: JSON.stringify({ json: { id, reason: "stuck after the Redis failover" } }),
  });
}

const resumeAudits = (id: string) => app.services.db.operatorAudit.count({ where: { action: "saga.resume", targetIds: { array_contains: [id] } } });

async function expectUnavailable(res: Response, id: string) {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe(String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS));
  const body = (await res.json()) as { error: { json: { message: string; data: { code: string; errorId: string | null } } } };
  expect(body.error.json.data.code).toBe("SERVICE_UNAVAILABLE");
  expect(body.error.json.message).toMatch(new RegExp(`Redis did not take the step job of saga ${id} in time; nothing changed\\. Try again in a few seconds`));
  expect(await resumeAudits(id)).toBe(0);
}

describe("admin.sagas.resume with a slow Redis", () => {
  it("Redis frozen (SIGSTOP): 503 with Retry-After and a message, no audit row; once Redis is back the same call re-queues the step", async () => {
    const id = await runningSaga();
    redis.pause();
    try {
      await expectUnavailable(await resume(id), id);
    } finally {
      redis.resume();
    }
    const res = await resume(id);
    expect(res.status).toBe(200);
    // The abandoned first dispatch may have landed once Redis woke, so either answer is right here.
    const body = (await res.json()) as { result: { data: { json: { status: string; redispatched: boolean } } } };
    expect(body.result.data.json).toMatchObject({ status: "running", redispatched: expect.any(Boolean) });
    expect(await resumeAudits(id)).toBe(1);
  });

  it("Redis busy for 2 s (DEBUG SLEEP), longer than the 1 s dispatch deadline: 503 with Retry-After", async () => {
    const id = await runningSaga();
    const sleeper = redis.client();
    // DEBUG SLEEP blocks the whole server; it answers the sleeper once the 2 s are over.
    const sleeping = sleeper.call("DEBUG", "SLEEP", "2");
    await new Promise((r) => setTimeout(r, 100)); // the sleep is running before the resume arrives
    try {
      await expectUnavailable(await resume(id), id);
    } finally {
      await sleeping;
    }
  });
});
