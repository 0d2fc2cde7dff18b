import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { expectTRPCError } from "~test/support/trpc-error";
import { FILE_UPLOAD_SAGA } from "~/server/features/files/upload-saga";
import { queuePrefix } from "~/server/platform/redis";
import { abortMarkKey, sharedStepQueue } from "~/server/reliability/saga/step-queue";

/** admin.sagas over the real router: who may do what, and what bad input gets back. */
let app: TestApp;
let user: SessionUser;
let viewer: SessionUser;
let operator: SessionUser;
let completedId: string;
let failedId: string;

const MISSING = "0190a0a0-0000-7000-8000-000000000000";

beforeAll(async () => {
  app = await createTestApp();
  user = await app.createUser({ role: "user" });
  viewer = await app.createUser({ role: "viewer" });
  operator = await app.createUser({ role: "operator" });
  // Sagas of a type this server has no definition for (as after a deploy that removed one).
  const now = Date.now();
  const completed = await app.services.db.sagaInstance.create({
    data: { type: "retired.saga", status: "completed", input: {}, context: { generation: 0, outputs: {} }, finishedAt: new Date(now + 120), createdAt: new Date(now) },
  });
  const failed = await app.services.db.sagaInstance.create({
    data: { type: "retired.saga", status: "failed", input: {}, lastError: "Compensation of step 0 (x) failed: disk full", context: { generation: 0, outputs: {} } },
  });
  await app.services.db.sagaStepLog.create({
    data: { sagaId: failed.id, stepIndex: 0, stepName: "x", phase: "compensate", status: "failed", attempts: 3, executionId: `${failed.id}.0.0`, error: "disk full", finishedAt: new Date() },
  });
  completedId = completed.id;
  failedId = failed.id;
});
afterAll(() => app.close());

describe("admin.sagas reads", () => {
  it("viewers list with filters, read a timeline and the metrics", async () => {
    const api = app.caller(viewer).admin.sagas;
    const all = await api.list({});
    expect(all.items.map((s) => s.id).sort()).toEqual([completedId, failedId].sort());
    expect((await api.list({ status: ["failed"] })).items.map((s) => s.id)).toEqual([failedId]);
    expect((await api.list({ error: "disk FULL" })).items.map((s) => s.id)).toEqual([failedId]);
    const page1 = await api.list({ limit: 1 });
    expect(page1.items).toHaveLength(1);
    const page2 = await api.list({ limit: 1, cursor: page1.nextCursor! });
    expect(page2.items).toHaveLength(1);
    expect(page2.nextCursor).toBeNull();
    expect(page2.items[0]!.id).not.toBe(page1.items[0]!.id);

    const timeline = await api.timeline({ id: failedId });
    expect(timeline.status).toBe("failed");
    expect(timeline.definedSteps).toBeNull();
    expect(timeline.steps).toEqual([expect.objectContaining({ stepIndex: 0, phase: "compensate", status: "failed", attempts: 3, error: "disk full" })]);

    const metrics = await api.metrics();
    expect(metrics.byStatus).toMatchObject({ completed: 1, failed: 1, running: 0 });
    expect(metrics.successRate).toBe(0.5);
    expect(metrics.durationMs.p50).toBe(120);
  });

  it("refuses plain users and signed-out callers", async () => {
    await expectTRPCError(app.caller(user).admin.sagas.list({}), "FORBIDDEN", /Only viewers and operators may do this; your role is user/);
    await expectTRPCError(app.caller(null).admin.sagas.metrics(), "UNAUTHORIZED", /sign in/);
  });

  it("answers bad input with BAD_REQUEST naming the field, and a missing saga with NOT_FOUND", async () => {
    const api = app.caller(viewer).admin.sagas;
    await expectTRPCError(api.timeline({ id: "nope" }), "BAD_REQUEST", /id[\s\S]*must be a saga id \(a UUID\)/);
    await expectTRPCError(api.list({ limit: 0 }), "BAD_REQUEST", /limit/);
    await expectTRPCError(api.list({ status: ["stuck" as never] }), "BAD_REQUEST", /status/);
    await expectTRPCError(api.timeline({ id: MISSING }), "NOT_FOUND", new RegExp(`Saga ${MISSING} was not found`));
  });
});

describe("admin.sagas actions", () => {
  it("are for operators only", async () => {
    await expectTRPCError(app.caller(viewer).admin.sagas.abort({ id: completedId, reason: "test" }), "FORBIDDEN", /Only operators may do this; your role is viewer/);
    await expectTRPCError(app.caller(viewer).admin.sagas.redrive({ id: failedId }), "FORBIDDEN", /Only operators/);
  });

  it("say why an action does not apply to the saga's state (CONFLICT) or cannot be done here (PRECONDITION_FAILED)", async () => {
    const api = app.caller(operator).admin.sagas;
    await expectTRPCError(api.abort({ id: completedId, reason: "oops" }), "CONFLICT", /is completed; only a running saga can be aborted/);
    await expectTRPCError(api.retryStep({ id: completedId }), "CONFLICT", /is completed; only a failed saga has a step to retry/);
    await expectTRPCError(api.resume({ id: completedId }), "CONFLICT", /is completed; only a running or compensating saga can be resumed/);
    await expectTRPCError(api.redrive({ id: completedId }), "CONFLICT", /only failed, compensated or aborted sagas can be redriven/);
    await expectTRPCError(api.retryStep({ id: failedId }), "PRECONDITION_FAILED", /Saga type retired\.saga is not known to this server/);
    await expectTRPCError(api.abort({ id: MISSING, reason: "gone" }), "NOT_FOUND", /was not found/);
    await expectTRPCError(api.abort({ id: failedId, reason: "x" }), "BAD_REQUEST", /say why \(at least 3 characters\)/);
    // Nothing was changed by the refused actions.
    const row = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: failedId } });
    expect(row).toMatchObject({ status: "failed", version: 0 });
  });
});

describe("admin.sagas.abort from the web process", () => {
  it("writes the saga's Redis abort mark, so a step job a worker already holds does not run its body", async () => {
    const running = await app.services.db.sagaInstance.create({
      // At its first step with nothing done yet: the abort has nothing to compensate.
      data: { type: FILE_UPLOAD_SAGA, status: "running", input: {}, currentStep: 0, context: { generation: 0, outputs: {} } },
    });
    await app.caller(operator).admin.sagas.abort({ id: running.id, reason: "stop this one" });
    const { redis, config } = app.services;
    const queue = sharedStepQueue(redis, queuePrefix(config.queuePrefix, redis));
    expect(await redis.exists(abortMarkKey(queue, { sagaId: running.id, generation: 0 }))).toBe(1);
  });
});
