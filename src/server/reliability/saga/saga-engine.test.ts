/**
 * The saga orchestrator against real PostgreSQL, Redis and BullMQ, with test-only sagas whose steps
 * write real rows (test/fixtures/saga/test-sagas.ts). Runners here live in this process; the crash test is in
 * saga-crash.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { createTestApp, type TestApp } from "~test/support/app";
import { asTestOperator } from "~test/support/audit";
import { startSagaRunner } from "~test/support/worker";
import { inMemoryDispatcher, startSagaTestBed } from "~test/support/saga";
import { DomainError } from "../../platform/errors";
import { errorFingerprint } from "../failures/fingerprint";
import { createSagaEngine, type StepOutcome } from "./engine";
import type { SagaService } from "./saga-service";
import { inTransaction } from "../../platform/db/transaction";
import { type createStepQueue, stepJobId } from "./step-queue";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import type { SagaStatus, StepJob } from "./types";

let app: TestApp;
let bed: Awaited<ReturnType<typeof startSagaTestBed>>;
let sagas: SagaService;
let queue: ReturnType<typeof createStepQueue>;

/**
 * Steps of test.five get a timeout no step body here comes near, even on a loaded machine; the
 * timeout test runs test.hang, whose step hangs until its (short) timeout. Waits are on
 * conditions; their deadlines only bound a failure, so they are generous.
 */
const TIMEOUT_MS = 5_000;
const HANG_TIMEOUT_MS = 300;
/** A step's lease (timeout + the engine's 2 s grace): recovery tests wait one out. */
const LEASE_MS = TIMEOUT_MS + 2_000;

beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
  const registry = testSagaRegistry(app.services.db, { timeoutMs: TIMEOUT_MS, hangTimeoutMs: HANG_TIMEOUT_MS, attempts: 3 });
  bed = await startSagaTestBed(app, registry, { concurrency: 8, lockDurationMs: 2_000, stalledIntervalMs: 1_000, sweepEveryMs: 300, stuckAfterMs: 1_500 });
  ({ queue, sagas } = bed);
});

afterAll(async () => {
  await bed?.close();
  await app?.close();
});

const TERMINAL: SagaStatus[] = ["completed", "compensated", "failed", "aborted"];

async function waitForStatus(ids: string[], statuses: SagaStatus[] = TERMINAL, timeoutMs = 30_000 + LEASE_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, lastError: true, currentStep: true } });
    if (rows.length === ids.length && rows.every((r) => statuses.includes(r.status))) return new Map(rows.map((r) => [r.id, r]));
    if (Date.now() > deadline) throw new Error(`sagas did not reach ${statuses.join("/")}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function calls(sagaId: string, phase: "execute" | "compensate" | "execute-abandoned") {
  const rows = await app.services.db.$queryRaw<Array<{ step: number }>>`
    SELECT step FROM saga_test_call WHERE saga_id = ${sagaId}::uuid AND phase = ${phase} ORDER BY id`;
  return rows.map((r) => r.step);
}

/** Let a step held by holdAt go on. */
async function release(sagaId: string) {
  await app.services.db.$executeRaw`INSERT INTO saga_test_released (saga_id) VALUES (${sagaId}::uuid) ON CONFLICT DO NOTHING`;
}

/**
 * Two copies of one step at once, the step held (holdAt): the copy that cannot run answers while
 * the other holds the step, and only then is the step released. Without the hold, a loaded machine
 * could finish the step before the second copy looks, and the test would see another race.
 */
async function releasedAfterFirst(sagaId: string, a: Promise<StepOutcome>, b: Promise<StepOutcome>): Promise<[StepOutcome, StepOutcome]> {
  await Promise.race([a, b]);
  await release(sagaId);
  return Promise.all([a, b]);
}

async function effects(sagaId: string) {
  return app.services.db.$queryRaw<Array<{ step: number; undone: boolean; execution_id: string }>>`
    SELECT step, undone, execution_id FROM saga_test_effect WHERE saga_id = ${sagaId}::uuid ORDER BY step, execution_id`;
}

async function violations() {
  const rows = await app.services.db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM saga_test_violation`;
  return rows[0]!.n;
}

async function expectDomainError(promise: Promise<unknown>, kind: DomainError["kind"], message: RegExp) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).kind).toBe(kind);
  expect((error as DomainError).message).toMatch(message);
}

describe("startSaga", () => {
  it("inside a caller's transaction, queues the first step only after the saga row commits", async () => {
    let jobInsideTransaction: unknown = "not checked";
    const { id } = await inTransaction(app.services.db, async () => {
      const saga = await sagas.startSaga("test.five", {});
      jobInsideTransaction = await queue.getJob(stepJobId({ sagaId: saga.id, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 }));
      return saga;
    });
    // A worker must not be handed a step whose saga it cannot see yet.
    expect(jobInsideTransaction).toBeUndefined();
    expect((await waitForStatus([id])).get(id)?.status).toBe("completed");
  });

  it("runs all five steps in order, each step seeing the outputs of the steps before it", async () => {
    const { id, status } = await sagas.startSaga("test.five", {}, { correlationId: "corr-1" });
    expect(status).toBe("running");
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("completed");
    expect(await calls(id, "execute")).toEqual([0, 1, 2, 3, 4]);
    expect(await calls(id, "compensate")).toEqual([]);
    const fx = await effects(id);
    expect(fx.map((e) => [e.step, e.undone])).toEqual([0, 1, 2, 3, 4].map((s) => [s, false]));
    const timeline = await sagas.timeline(id);
    expect(timeline.finishedAt).toBeInstanceOf(Date);
    expect(timeline.correlationId).toBe("corr-1");
    expect(timeline.steps.map((s) => [s.stepIndex, s.phase, s.status, s.attempts])).toEqual(
      [0, 1, 2, 3, 4].map((s) => [s, "execute", "succeeded", 1]),
    );
    // Execution ids are stable and distinct per step; step 3 saw the outputs of 0..2.
    expect(new Set(timeline.steps.map((s) => s.executionId)).size).toBe(5);
    expect(timeline.steps[3]!.output).toEqual({ step: 3, sawOutputs: ["step-0", "step-1", "step-2"] });
  });

  it("rejects an unknown saga type and invalid input with a message that says what is wrong, and persists nothing", async () => {
    const before = await app.services.db.sagaInstance.count();
    await expectDomainError(sagas.startSaga("nope", {}), "bad_input", /Unknown saga type "nope"; known types: test\.five/);
    await expectDomainError(sagas.startSaga("test.five", { failAt: -1 }), "bad_input", /Invalid input for saga test\.five:[\s\S]*failAt/);
    await expectDomainError(sagas.startSaga("test.five", { sleepMs: "slow" }), "bad_input", /sleepMs/);
    expect(await app.services.db.sagaInstance.count()).toBe(before);
  });
});

describe("failures and compensation", () => {
  it("a failure injected at each step compensates exactly the completed steps, in reverse order", async () => {
    const started = await Promise.all([0, 1, 2, 3, 4].map((failAt) => sagas.startSaga("test.five", { failAt })));
    const done = await waitForStatus(started.map((s) => s.id));
    for (const [failAt, { id }] of started.entries()) {
      const saga = done.get(id)!;
      expect(saga.status).toBe("compensated");
      expect(saga.lastError).toMatch(new RegExp(`Step ${failAt} \\(step-${failAt}\\) failed: PermanentStepError: injected failure at step ${failAt}`));
      const completed = [...Array(failAt).keys()];
      // A permanent failure is not retried: each step executed once, up to and including the failing one.
      expect(await calls(id, "execute")).toEqual([...completed, failAt]);
      expect(await calls(id, "compensate")).toEqual([...completed].reverse());
      const fx = await effects(id);
      expect(fx.map((e) => [e.step, e.undone])).toEqual(completed.map((s) => [s, true]));
      const timeline = await sagas.timeline(id);
      expect(timeline.steps.filter((s) => s.phase === "compensate").map((s) => [s.stepIndex, s.status])).toEqual(
        [...completed].reverse().map((s) => [s, "succeeded"]),
      );
      expect(timeline.steps.find((s) => s.phase === "execute" && s.stepIndex === failAt)!.status).toBe("failed");
    }
    // The failure's fingerprint is recorded with it (failure groups): one cause, one group.
    const rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: started.map((s) => s.id) } }, select: { lastError: true, failureFingerprint: true } });
    for (const r of rows) expect(r.failureFingerprint).toBe(errorFingerprint({ message: r.lastError! }));
    expect(new Set(rows.map((r) => r.failureFingerprint)).size).toBe(1);
  });

  it("retries transient failures per the policy (3 attempts) and completes", async () => {
    const { id } = await sagas.startSaga("test.five", { flakyAttempts: 2 });
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("completed");
    expect(await calls(id, "execute")).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    const timeline = await sagas.timeline(id);
    expect(timeline.steps.every((s) => s.attempts === 3 && s.status === "succeeded")).toBe(true);
    expect((await effects(id)).length).toBe(5);
  });

  it("gives up after the last attempt of a step that keeps failing, then compensates", async () => {
    const { id } = await sagas.startSaga("test.five", { flakyAttempts: 5 });
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("compensated");
    expect(done.get(id)!.lastError).toMatch(/Step 0 \(step-0\) failed: transient failure at step 0, attempt 3/);
    expect(await calls(id, "execute")).toEqual([0, 0, 0]);
  });

  it("enforces the step timeout: a step that runs too long is abandoned (its signal aborted), retried, then compensated", async () => {
    // Step 0 never ends by itself: only its timeout can end it, however loaded the machine is.
    const { id } = await sagas.startSaga("test.hang", { hangAt: 0 });
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("compensated");
    expect(done.get(id)!.lastError).toMatch(new RegExp(`StepTimeoutError: Step step-0 timed out after ${HANG_TIMEOUT_MS} ms`));
    expect(await calls(id, "execute")).toEqual([0, 0, 0]);
    // Each abandoned body saw its signal abort (it records that as it gives up) and wrote no effect.
    const deadline = Date.now() + 10_000;
    while ((await calls(id, "execute-abandoned")).length < 3) {
      if (Date.now() > deadline) throw new Error(`the step bodies did not all see their signal abort: ${JSON.stringify(await calls(id, "execute-abandoned"))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await calls(id, "execute-abandoned")).toEqual([0, 0, 0]);
    expect(await effects(id)).toEqual([]);
  });

  it("a compensation that fails ends `failed`, visible with its error; retrying it after a fix ends `compensated`", async () => {
    const { id } = await sagas.startSaga("test.five", { failAt: 3, failCompensationAt: 1 });
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("failed");
    expect(done.get(id)!.lastError).toMatch(/Compensation of step 1 \(step-1\) failed: injected compensation failure at step 1/);
    expect(await calls(id, "compensate")).toEqual([2, 1, 1, 1]);
    const failed = await sagas.list({ status: ["failed"], limit: 10 });
    expect(failed.items.map((s) => s.id)).toContain(id);
    const byError = await sagas.list({ error: "COMPENSATION FAILURE at step 1", limit: 10 });
    expect(byError.items.map((s) => s.id)).toContain(id);
    const timeline = await sagas.timeline(id);
    const comp1 = timeline.steps.find((s) => s.phase === "compensate" && s.stepIndex === 1)!;
    expect(comp1).toMatchObject({ status: "failed", attempts: 3, error: "injected compensation failure at step 1" });
    // Step 0 was never compensated: it stays in effect until an operator acts.
    expect((await effects(id)).map((e) => [e.step, e.undone])).toEqual([
      [0, false],
      [1, false],
      [2, true],
    ]);

    await expectDomainError(sagas.abort(id, "no", asTestOperator), "conflict", /is failed; only a running saga can be aborted/);
    await app.services.db.$executeRaw`INSERT INTO saga_test_healed (saga_id) VALUES (${id}::uuid)`;
    expect(await sagas.retryStep(id, asTestOperator)).toEqual({ status: "compensating", stepIndex: 1 });
    const after = await waitForStatus([id], ["compensated", "failed"]);
    expect(after.get(id)!.status).toBe("compensated");
    expect(await calls(id, "compensate")).toEqual([2, 1, 1, 1, 1, 0]);
    expect((await effects(id)).every((e) => e.undone)).toBe(true);
    await expectDomainError(sagas.retryStep(id, asTestOperator), "conflict", /is compensated; only a failed saga has a step to retry/);
  });
});

describe("operator operations", () => {
  it("abort (compensate now) lets the step in flight finish, then undoes it and every completed step; the saga ends `aborted`", async () => {
    // Step 2 holds until released: it is in flight for as long as the test needs, on any machine.
    const { id } = await sagas.startSaga("test.five", { holdAt: 2 });
    const deadline = Date.now() + 20_000;
    while ((await calls(id, "execute")).length < 3) {
      if (Date.now() > deadline) throw new Error("step 2 never started");
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await sagas.abort(id, "customer cancelled", asTestOperator)).toEqual({ status: "running", abortRequested: true });
    // Asking twice is harmless.
    expect(await sagas.abort(id, "again", asTestOperator)).toEqual({ status: "running", abortRequested: true });
    await release(id);
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("aborted");
    expect(done.get(id)!.lastError).toBe("Aborted by an operator: customer cancelled");
    expect(await calls(id, "execute")).toEqual([0, 1, 2]);
    expect(await calls(id, "compensate")).toEqual([2, 1, 0]);
    expect((await effects(id)).map((e) => [e.step, e.undone])).toEqual([0, 1, 2].map((s) => [s, true]));
    await expectDomainError(sagas.abort(id, "late", asTestOperator), "conflict", /is aborted; only a running saga can be aborted/);
  });

  it("abort of a saga waiting between attempts compensates at once from the last completed step", async () => {
    // flaky steps: step 0 fails twice with backoff; abort while it waits for its retry.
    const { id } = await sagas.startSaga("test.five", { flakyAttempts: 2 });
    const deadline = Date.now() + 10_000;
    while ((await calls(id, "execute")).length < 1) {
      if (Date.now() > deadline) throw new Error("step 0 never started");
      await new Promise((r) => setTimeout(r, 10));
    }
    const result = await sagas.abort(id, "stop it", asTestOperator);
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("aborted");
    if (result.status === "aborted") {
      // Nothing had completed: no compensation needed, the stale retry job is dropped.
      expect(await calls(id, "compensate")).toEqual([]);
    }
    expect((await effects(id)).every((e) => e.undone)).toBe(true);
  });

  it("redrive runs a failed saga forward from its first step not in effect, with new execution ids, skipping succeeded ones", async () => {
    const { id } = await sagas.startSaga("test.five", { failAt: 3, failCompensationAt: 1 });
    expect((await waitForStatus([id])).get(id)!.status).toBe("failed");
    await app.services.db.$executeRaw`INSERT INTO saga_test_healed (saga_id) VALUES (${id}::uuid)`;
    // Steps 0 and 1 are still in effect (1's compensation failed); 2 was undone: redrive starts at 2.
    expect(await sagas.redrive(id, asTestOperator)).toEqual({ status: "running", fromStep: 2, skipped: 2 });
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("completed");
    expect(await calls(id, "execute")).toEqual([0, 1, 2, 3, 2, 3, 4]);
    const fx = await effects(id);
    // Old step 2 effect undone; the new run's step 2 effect has another execution id.
    expect(fx.filter((e) => e.step === 2).map((e) => e.undone).sort()).toEqual([false, true]);
    expect(fx.filter((e) => !e.undone).map((e) => e.step)).toEqual([0, 1, 2, 3, 4]);
    const timeline = await sagas.timeline(id);
    expect(timeline.generation).toBe(1);
    expect(timeline.lastError).toBeNull();
    await expectDomainError(sagas.redrive(id, asTestOperator), "conflict", /is completed; only failed, compensated or aborted sagas can be redriven/);
  });

  it("resume re-queues the step of a saga whose job was lost, and queues nothing when a live job exists", async () => {
    // A saga persisted but never queued (its job lost).
    const engine = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: inMemoryDispatcher() });
    const lost = await engine.startSaga("test.five", {});
    expect(await sagas.resume(lost.id, asTestOperator)).toEqual({ status: "running", stepIndex: 0, redispatched: true });
    // Held in step 0: its job is active for as long as the test needs.
    const live = await sagas.startSaga("test.five", { holdAt: 0 });
    const deadline = Date.now() + 20_000;
    while ((await calls(live.id, "execute")).length < 1) {
      if (Date.now() > deadline) throw new Error("step 0 never started");
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await sagas.resume(live.id, asTestOperator)).toMatchObject({ status: "running", redispatched: false });
    await release(live.id);
    const done = await waitForStatus([lost.id, live.id]);
    expect([done.get(lost.id)!.status, done.get(live.id)!.status]).toEqual(["completed", "completed"]);
    expect(await calls(live.id, "execute")).toEqual([0, 1, 2, 3, 4]);
    await expectDomainError(sagas.resume(lost.id, asTestOperator), "conflict", /is completed; only a running or compensating saga can be resumed/);
    await expectDomainError(sagas.resume("0190a0a0-0000-7000-8000-000000000000", asTestOperator), "not_found", /Saga 0190a0a0-0000-7000-8000-000000000000 was not found/);
  });

  it("the sweeper re-queues a saga whose next job is missing (crash between commit and dispatch)", async () => {
    // Simulate the crash: a saga row at step 2 with no job at all.
    const engine = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: inMemoryDispatcher() });
    const { id } = await engine.startSaga("test.five", {});
    await app.services.db.$executeRaw`UPDATE saga_instance SET current_step = 2, updated_at = now() - interval '10 seconds' WHERE id = ${id}::uuid`;
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("completed");
    expect(await calls(id, "execute")).toEqual([2, 3, 4]);
  });
});

describe("Redis down at start", () => {
  it("a saga whose first job could not be queued still starts (no error to the caller, no second saga on retry) and the sweeper runs it", async () => {
    const down = createSagaEngine({
      db: app.services.db,
      registry: sagas.registry,
      dispatcher: inMemoryDispatcher({
        dispatch: async () => {
          throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
        },
      }),
    });
    const { id, status } = await down.startSaga("test.five", {});
    expect(status).toBe("running");
    const done = await waitForStatus([id]);
    expect(done.get(id)!.status).toBe("completed");
    expect(await calls(id, "execute")).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("concurrency", () => {
  it("the start pre-claims step 0 for its job: a copy without the pre-claim (e.g. the sweeper's) waits, the step runs once", async () => {
    const queued: StepJob[] = [];
    const engineA = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: inMemoryDispatcher({ dispatch: async (j) => void queued.push(j) }) });
    const engineB = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: inMemoryDispatcher() });
    const { id } = await engineA.startSaga("test.five", { holdAt: 0 });
    const real = queued.find((j) => j.sagaId === id)!;
    expect(real.preclaim?.attempt).toBe(1);
    const { preclaim: _p, ...copy } = real;
    const attempt = { attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() };
    const [a, b] = await releasedAfterFirst(id, engineA.runStep(real, attempt), engineB.runStep(copy, attempt));
    expect([a.kind, b.kind]).toEqual(["advanced", "wait"]);
    expect(await calls(id, "execute")).toEqual([0]);
    const log = await app.services.db.sagaStepLog.findUniqueOrThrow({ where: { sagaId_stepIndex_phase: { sagaId: id, stepIndex: 0, phase: "execute" } } });
    expect(log).toMatchObject({ status: "succeeded", attempts: 1 });
    await app.services.db.sagaInstance.delete({ where: { id } });
  });

  it("two copies of one step job (two workers) run the step once; the other waits then is dropped", async () => {
    const engineA = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: inMemoryDispatcher() });
    const engineB = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: inMemoryDispatcher() });
    const { id } = await engineA.startSaga("test.five", { holdAt: 0 });
    // The start pre-claimed step 0 for the job it queued (not used here): as if that job were lost,
    // its lease has run out, so both copies below go through the claim.
    await app.services.db.$executeRaw`UPDATE saga_step_log SET started_at = now() - interval '1 hour' WHERE saga_id = ${id}::uuid`;
    const job: StepJob = { sagaId: id, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 };
    const attempt = { attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() };
    const [a, b] = await releasedAfterFirst(id, engineA.runStep(job, attempt), engineB.runStep(job, attempt));
    const kinds = [a.kind, b.kind].sort();
    expect(kinds).toEqual(["advanced", "wait"]);
    expect(await calls(id, "execute")).toEqual([0]);
    // The waiting copy, run again later, finds the saga moved on and drops itself.
    expect((await engineB.runStep(job, attempt)).kind).toBe("stale");
    expect(await calls(id, "execute")).toEqual([0]);
    const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id } });
    expect(saga.currentStep).toBe(1);
    await app.services.db.sagaInstance.delete({ where: { id } });
  });

  it("fast path: a finish pre-claims the next step for its job; a redelivered copy of that job waits instead of running the step too", async () => {
    const queued: StepJob[] = [];
    const capture = inMemoryDispatcher({ dispatch: async (job: StepJob) => void queued.push(job) });
    const engine = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: capture });
    const { id } = await engine.startSaga("test.five", { holdAt: 1 });
    const first = { attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() };
    expect((await engine.runStep(queued.shift()!, first)).kind).toBe("advanced");
    const next = queued.shift()!;
    expect(next).toMatchObject({ stepIndex: 1, preclaim: { attempt: 1, executionId: `${id}.1.0` } });
    // The lease is already taken (by step 0's finish) before any worker picks the job up.
    const lease = await app.services.db.sagaStepLog.findUniqueOrThrow({ where: { sagaId_stepIndex_phase: { sagaId: id, stepIndex: 1, phase: "execute" } } });
    expect(lease).toMatchObject({ status: "running", attempts: 1 });
    // First delivery and a redelivery (a stalled copy) at once: only the first runs the step.
    const [a, b] = await releasedAfterFirst(id, engine.runStep(next, first), engine.runStep(next, { ...first, redelivered: true }));
    expect([a.kind, b.kind]).toEqual(["advanced", "wait"]);
    expect(await calls(id, "execute")).toEqual([0, 1]);
    const done = await app.services.db.sagaStepLog.findUniqueOrThrow({ where: { sagaId_stepIndex_phase: { sagaId: id, stepIndex: 1, phase: "execute" } } });
    expect(done).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(done.startedAt).toEqual(lease.startedAt); // no claim statement ran for it
    await app.services.db.sagaInstance.delete({ where: { id } });
  });

  it("a pre-claimed job delivered too late for the fast path re-takes its own lease under the same attempt: one run, one attempt", async () => {
    const queued: StepJob[] = [];
    const capture = inMemoryDispatcher({ dispatch: async (job: StepJob) => void queued.push(job) });
    const engine = createSagaEngine({ db: app.services.db, registry: sagas.registry, dispatcher: capture });
    const { id } = await engine.startSaga("test.five", {});
    const first = { attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() };
    expect((await engine.runStep(queued.shift()!, first)).kind).toBe("advanced");
    const next = queued.shift()!;
    expect(next).toMatchObject({ stepIndex: 1, preclaim: { attempt: 1 } });
    // The job reaches a worker after its lease ran out (a loaded machine): no fast path, a real claim.
    await app.services.db.$executeRaw`
      UPDATE saga_step_log SET started_at = now() - interval '1 hour' WHERE saga_id = ${id}::uuid AND step_index = 1`;
    const late: StepJob = { ...next, preclaim: { ...next.preclaim!, at: Date.now() - 3_600_000 } };
    expect((await engine.runStep(late, first)).kind).toBe("advanced");
    expect(await calls(id, "execute")).toEqual([0, 1]);
    const log = await app.services.db.sagaStepLog.findUniqueOrThrow({ where: { sagaId_stepIndex_phase: { sagaId: id, stepIndex: 1, phase: "execute" } } });
    expect(log).toMatchObject({ status: "succeeded", attempts: 1 });
    const history = await app.services.db.sagaStepAttempt.findMany({ where: { sagaId: id, stepIndex: 1 }, select: { attempt: true, outcome: true } });
    expect(history).toEqual([{ attempt: 1, outcome: "succeeded" }]);
    // A lease of another runner that ran out is still taken over as a new attempt (that fences it).
    const step2 = queued.shift()!;
    await app.services.db.$executeRaw`
      UPDATE saga_step_log SET started_at = now() - interval '1 hour' WHERE saga_id = ${id}::uuid AND step_index = 2`;
    expect((await engine.runStep(step2, { ...first, redelivered: true })).kind).toBe("advanced");
    expect(
      await app.services.db.sagaStepLog.findUniqueOrThrow({ where: { sagaId_stepIndex_phase: { sagaId: id, stepIndex: 2, phase: "execute" } }, select: { attempts: true } }),
    ).toEqual({ attempts: 2 });
    await app.services.db.sagaInstance.delete({ where: { id } });
  });

  it("two runners on one queue never run one step at the same time; every run is a claimed attempt and each effect happens once", async () => {
    const second = await startSagaRunner({
      connection: app.bullConnection,
      prefix: app.queuePrefix,
      db: app.services.db,
      registry: sagas.registry,
      logger: pino({ level: "silent" }),
      concurrency: 8,
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      sweepEveryMs: 200,
      stuckAfterMs: 500, // eager sweeper: it re-queues steps while they run, which must not double them
    });
    try {
      const started = await Promise.all(Array.from({ length: 30 }, () => sagas.startSaga("test.five", { jitterMs: 40 })));
      const ids = started.map((s) => s.id);
      const done = await waitForStatus(ids, TERMINAL, 60_000);
      expect([...done.values()].every((s) => s.status === "completed")).toBe(true);
      // Every run of a step body was a claimed attempt (no run without the lease), and no step ran in
      // two places at once. (On a loaded machine a step can time out and be retried: that is a
      // second claimed attempt, not a duplicate.)
      const perStep = await app.services.db.$queryRaw<Array<{ calls: number; attempts: number; effects: number }>>`
        SELECT count(*)::int AS calls, max(l.attempts)::int AS attempts,
               (SELECT count(*)::int FROM saga_test_effect e WHERE e.saga_id = c.saga_id AND e.step = c.step AND NOT e.undone) AS effects
        FROM saga_test_call c
        JOIN saga_step_log l ON l.saga_id = c.saga_id AND l.step_index = c.step AND l.phase = 'execute'
        WHERE c.saga_id = ANY(${ids}::uuid[]) AND c.phase = 'execute'
        GROUP BY c.saga_id, c.step`;
      expect(perStep.length).toBe(150);
      expect(perStep.filter((r) => r.calls !== r.attempts)).toEqual([]);
      expect(perStep.filter((r) => r.effects !== 1)).toEqual([]);
      expect(await violations()).toBe(0);
    } finally {
      await second.close();
    }
  });
});

describe("metrics", () => {
  it("reports sagas per status, success and compensation rates, average steps and duration percentiles", async () => {
    const m = await sagas.metrics({ type: "test.five" });
    const rows = await app.services.db.sagaInstance.groupBy({ by: ["status"], _count: true, where: { type: "test.five" } });
    for (const row of rows) expect(m.byStatus[row.status]).toBe(row._count);
    expect(m.total).toBe(rows.reduce((s, r) => s + r._count, 0));
    const finished = m.byStatus.completed + m.byStatus.compensated + m.byStatus.aborted + m.byStatus.failed;
    expect(m.successRate).toBeCloseTo(m.byStatus.completed / finished, 10);
    expect(m.compensationRate).toBeCloseTo((m.byStatus.compensated + m.byStatus.aborted) / finished, 10);
    expect(m.avgSteps).toBeGreaterThan(1);
    expect(m.avgSteps).toBeLessThanOrEqual(5);
    expect(m.durationMs.p50).toBeGreaterThan(0);
    expect(m.durationMs.p95).toBeGreaterThanOrEqual(m.durationMs.p50!);
    const none = await sagas.metrics({ type: "no.such.type" });
    expect(none).toMatchObject({ total: 0, successRate: null, compensationRate: null, avgSteps: null, durationMs: { p50: null, p95: null } });
  });
});
