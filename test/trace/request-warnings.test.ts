/**
 * Warnings written by services built once per process, while they serve a request, name that
 * request's correlation id: the first saga step Redis did not take (files.startUpload), a bulk job
 * Redis did not take (admin.bulk.start) and a queue pause Redis did not apply (admin.fleet.pauseQueue).
 * The fault is real: the app's private redis-server is stopped, over the real tRPC HTTP handler and
 * PostgreSQL. A warning outside any request (the process's logger) names no correlation id.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { QueueName } from "~/server/contracts/queues";
import { requestScopedLog } from "~/server/platform/request-logger";
import { createTestApp, type TestApp } from "~test/support/app";
import { capturedLogger } from "~test/support/captured-logger";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";

const web = capturedLogger("warn");
let redis: PrivateRedis;
let app: TestApp;
let owner: SessionUser;
let operator: SessionUser;

beforeAll(async () => {
  redis = await startPrivateRedis();
  app = await createTestApp({ redisUrl: redis.url, cacheRedisUrl: null, logger: web.logger });
  owner = await app.createUser();
  operator = await app.createUser({ role: "operator" });
  await redis.stop();
});
afterAll(async () => {
  // Back up before closing, so the app's clients end cleanly instead of failing their last commands.
  await redis?.restart();
  await app?.close();
  await redis?.close();
});

/** The warning lines with this message. */
const warnings = (msg: string) => web.lines.filter((line) => line.msg === msg);

function postJson(path: string, user: SessionUser, requestId: string, input: unknown) {
  return app.http(`/api/trpc/${path}`, {
    method: "POST",
    user,
    headers: { "content-type": "application/json", "X-Request-Id": requestId },
    body: JSON.stringify({ json: input }),
  });
}

describe("a warning written while serving a request, with Redis down", () => {
  it("the first saga step not queued names the upload's request id", async () => {
    const fd = new FormData();
    fd.append("file", new File(["hello"], "notes.txt", { type: "text/plain" }));
    const res = await app.http("/api/trpc/files.startUpload", { method: "POST", body: fd, user: owner, headers: { "X-Request-Id": "req-saga-dispatch" } });
    expect(res.status).toBe(200);
    const [line, ...more] = warnings("could not queue the first saga step; the sweeper will");
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 40, correlationId: "req-saga-dispatch" });
  });

  it("the bulk job not queued names the bulk start's request id", async () => {
    const res = await postJson("admin.bulk.start", operator, "req-bulk-enqueue", { action: "outbox.retry", dryRunCount: 0, reason: "retry after the Redis outage" });
    expect(res.status).toBe(200);
    const [line, ...more] = warnings("could not queue the bulk operation; the sweeper will");
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 40, correlationId: "req-bulk-enqueue" });
  });

  it("the pause not applied to Redis names the pause's request id", async () => {
    const res = await postJson("admin.fleet.pauseQueue", operator, "req-fleet-pause", { queue: QueueName.idempotencyCleanup, reason: "maintenance" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ result: { data: { json: { paused: true, appliedNow: false } } } });
    const [line, ...more] = warnings("queue pause recorded, but Redis did not take it now; the workers will apply it");
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 40, correlationId: "req-fleet-pause", queue: QueueName.idempotencyCleanup });
  });
});

describe("outside a request", () => {
  it("the same log writes to the process's logger, without a correlation id", () => {
    requestScopedLog(web.logger).warn({ job: "sweep" }, "a warning of the worker's own");
    const [line] = warnings("a warning of the worker's own");
    expect(line).toMatchObject({ level: 40, job: "sweep" });
    expect(line).not.toHaveProperty("correlationId");
  });
});
