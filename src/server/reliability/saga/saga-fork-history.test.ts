/**
 * Step attempt history and fork-from-step, against real PostgreSQL, Redis and BullMQ with the
 * test-only saga `test.five` (steps write real rows: testing/test-sagas.ts).
 */
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { asTestOperator } from "~test/support/audit";
import { startSagaTestBed } from "~test/support/saga";
import { DomainError } from "../../platform/errors";
import { deleteExpiredSagaAttempts } from "./retention";
import type { SagaService } from "./saga-service";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import type { SagaStatus } from "./types";

let app: TestApp;
let bed: Awaited<ReturnType<typeof startSagaTestBed>>;
let sagas: SagaService;

beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
  // A timeout no step here comes near on a loaded machine (waits are on conditions).
  const registry = testSagaRegistry(app.services.db, { timeoutMs: 5_000, attempts: 3 });
  bed = await startSagaTestBed(app, registry, { concurrency: 4, sweepEveryMs: 300, stuckAfterMs: 1_500 });
  ({ sagas } = bed);
});

afterAll(async () => {
  await bed?.close();
  await app?.close();
});

async function waitForStatus(id: string, statuses: SagaStatus[] = ["completed", "compensated", "failed", "aborted"]) {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const row = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id } });
    if (statuses.includes(row.status)) return row;
    if (Date.now() > deadline) throw new Error(`saga ${id} is still ${row.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function executedSteps(sagaId: string, phase: "execute" | "compensate" = "execute") {
  const rows = await app.services.db.$queryRaw<Array<{ step: number }>>`
    SELECT DISTINCT step FROM saga_test_call WHERE saga_id = ${sagaId}::uuid AND phase = ${phase} ORDER BY step`;
  return rows.map((r) => r.step);
}

describe("saga step attempt history", () => {
  it("keeps every attempt of a step across retries (error, duration, worker), not just the last", async () => {
    const { id } = await sagas.startSaga("test.five", { flakyAttempts: 2 });
    expect((await waitForStatus(id)).status).toBe("completed");
    const timeline = await sagas.timeline(id);
    // 5 steps × (2 failed + 1 succeeded), newest first.
    expect(timeline.stepAttempts).toHaveLength(15);
    const step0 = timeline.stepAttempts.filter((a) => a.stepIndex === 0).reverse();
    expect(step0.map((a) => a.outcome)).toEqual(["failed", "failed", "succeeded"]);
    expect(step0.map((a) => a.error)).toEqual(["transient failure at step 0, attempt 1", "transient failure at step 0, attempt 2", null]);
    expect(new Set(step0.map((a) => a.attempt)).size).toBe(3);
    for (const a of timeline.stepAttempts) {
      expect(a.worker).toBe(`${os.hostname()}:${process.pid}`);
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
      expect(a.phase).toBe("execute");
    }
    // The step log still holds only the latest state of each step.
    expect(timeline.steps.filter((s) => s.stepIndex === 0)).toHaveLength(1);
  });

  it("keeps compensation attempts apart from forward ones, and retention removes the history of long-finished sagas only", async () => {
    const { id } = await sagas.startSaga("test.five", { failAt: 2 });
    expect((await waitForStatus(id)).status).toBe("compensated");
    const { stepAttempts } = await sagas.timeline(id);
    expect(stepAttempts.filter((a) => a.phase === "compensate").map((a) => a.stepIndex).sort()).toEqual([0, 1]);
    expect(stepAttempts.find((a) => a.stepIndex === 2 && a.phase === "execute")).toMatchObject({ outcome: "failed", error: "PermanentStepError: injected failure at step 2" });

    const running = await app.services.db.sagaInstance.create({ data: { type: "test.five", input: {}, status: "running" } });
    await app.services.db.sagaStepAttempt.create({
      data: { id: crypto.randomUUID(), sagaId: running.id, stepIndex: 0, stepName: "step-0", phase: "execute", generation: 0, attempt: 1, outcome: "failed", startedAt: new Date(0), durationMs: 1, worker: "w" },
    });
    const before = await app.services.db.sagaStepAttempt.count({ where: { sagaId: id } });
    // Nothing finished before the cut-off: nothing goes.
    expect(await deleteExpiredSagaAttempts(app.services.db, { olderThan: new Date(Date.now() - 60_000), batchSize: 2 })).toBe(0);
    expect(await deleteExpiredSagaAttempts(app.services.db, { olderThan: new Date(Date.now() + 60_000), batchSize: 2 })).toBeGreaterThanOrEqual(before);
    expect(await app.services.db.sagaStepAttempt.count({ where: { sagaId: id } })).toBe(0);
    // A saga still running keeps its history, however old.
    expect(await app.services.db.sagaStepAttempt.count({ where: { sagaId: running.id } })).toBe(1);
  });
});

describe("fork a saga from a step", () => {
  it("runs steps 3..4 only, with steps 0..2's recorded outputs, edited input, linked to an untouched original; audit-logged", async () => {
    const { id: originalId } = await sagas.startSaga("test.five", { failAt: 3 });
    expect((await waitForStatus(originalId)).status).toBe("compensated");
    const originalBefore = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: originalId } });

    // The original input would fail step 3 again: the edited input does not.
    const fork = await sagas.fork(originalId, { fromStep: 3, input: { sleepMs: 1 } }, asTestOperator);
    expect(fork).toMatchObject({ forkedFrom: originalId, fromStep: 3, inputEdited: true, status: "running" });
    const done = await waitForStatus(fork.id);
    expect(done.status).toBe("completed");
    expect(done).toMatchObject({ forkedFrom: originalId, forkedFromStep: 3, input: expect.objectContaining({ sleepMs: 1 }) });

    expect(await executedSteps(fork.id)).toEqual([3, 4]);
    expect(await executedSteps(fork.id, "compensate")).toEqual([]);
    // Step 3 saw the outputs the original recorded for steps 0..2.
    const outputs = (done.context as { outputs: Record<string, { sawOutputs: string[] }> }).outputs;
    expect(outputs["step-3"]!.sawOutputs).toEqual(["step-0", "step-1", "step-2"]);
    expect(outputs["step-0"]).toEqual((originalBefore.context as { outputs: Record<string, unknown> }).outputs["step-0"]);

    // The fork's timeline shows the inherited steps; the original lists its fork and is unchanged.
    const timeline = await sagas.timeline(fork.id);
    expect(timeline.steps.filter((s) => s.phase === "execute").map((s) => s.stepIndex)).toEqual([0, 1, 2, 3, 4]);
    expect(timeline.stepAttempts.map((a) => a.stepIndex).sort()).toEqual([3, 4]);
    expect((await sagas.timeline(originalId)).forks).toEqual([expect.objectContaining({ id: fork.id, forkedFromStep: 3, status: "completed" })]);
    expect(await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: originalId } })).toEqual(originalBefore);

    const audit = await app.services.db.operatorAudit.findMany({ where: { action: "saga.fork" } });
    expect(audit).toEqual([expect.objectContaining({ targetKind: "saga", targetIds: [originalId, fork.id], affectedCount: 1, filter: { fromStep: 3, inputEdited: true } })]);
  });

  it("a failing fork compensates only the steps it ran itself", async () => {
    const { id: originalId } = await sagas.startSaga("test.five", { failAt: 4 });
    expect((await waitForStatus(originalId)).status).toBe("compensated");
    const fork = await sagas.fork(originalId, { fromStep: 2, input: { failAt: 3 } }, asTestOperator);
    expect((await waitForStatus(fork.id)).status).toBe("compensated");
    expect(await executedSteps(fork.id)).toEqual([2, 3]);
    expect(await executedSteps(fork.id, "compensate")).toEqual([2]);
  });

  it("refuses bad input (BAD_REQUEST), a step without a recorded output or a live saga (CONFLICT), and writes nothing", async () => {
    const { id: failedAt1 } = await sagas.startSaga("test.five", { failAt: 1 });
    await waitForStatus(failedAt1);
    const count = async () => [await app.services.db.sagaInstance.count(), await app.services.db.operatorAudit.count()];
    const before = await count();
    const refusal = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as DomainError);
    expect(await refusal(sagas.fork(failedAt1, { fromStep: 1, input: { sleepMs: -5 } }, asTestOperator))).toMatchObject({ kind: "bad_input", message: expect.stringMatching(/input schema[\s\S]*sleepMs/) });
    expect(await refusal(sagas.fork(failedAt1, { fromStep: 9 }, asTestOperator))).toMatchObject({ kind: "bad_input", message: expect.stringMatching(/0 to 4/) });
    expect(await refusal(sagas.fork(failedAt1, { fromStep: 3 }, asTestOperator))).toMatchObject({ kind: "conflict", message: expect.stringMatching(/Step 1 \(step-1\).*never completed.*fork from step 1 or earlier/) });
    const live = await app.services.db.sagaInstance.create({ data: { type: "test.five", input: {}, status: "running" } });
    expect(await refusal(sagas.fork(live.id, { fromStep: 0 }, asTestOperator))).toMatchObject({ kind: "conflict", message: expect.stringMatching(/running.*abort it first/) });
    expect(await count()).toEqual([before[0]! + 1, before[1]]);
  });
});
