/**
 * Issue 11, hole 10: an operator's abort must stop a step whose lease the previous step's finish
 * already took (the pre-claim fast path) but which has not started yet. The abort sees that lease
 * as "in flight" and lets it finish; the job, carrying the saga's state from before the abort,
 * must notice and not run the step. Real PostgreSQL; the engine's jobs are run by hand, in order.
 */
import { asTestOperator } from "~test/support/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { createSagaEngine } from "./engine";
import { createSagaOperations } from "./operations";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import type { StepJob } from "./types";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
});
afterAll(() => app.close());

async function calls(sagaId: string, phase: "execute" | "compensate") {
  const rows = await app.services.db.$queryRaw<Array<{ step: number }>>`
    SELECT step FROM saga_test_call WHERE saga_id = ${sagaId}::uuid AND phase = ${phase} ORDER BY id`;
  return rows.map((r) => r.step);
}

describe("abort and the pre-claimed next step", () => {
  it("a step pre-claimed before the abort does not run; the saga compensates what ran and ends aborted", async () => {
    const queued: StepJob[] = [];
    const dispatcher = { dispatch: async (job: StepJob) => void queued.push(job), ensure: async () => false };
    const registry = testSagaRegistry(app.services.db, { timeoutMs: 5_000, attempts: 3 });
    const engine = createSagaEngine({ db: app.services.db, registry, dispatcher });
    const operations = createSagaOperations({ db: app.services.db, registry, dispatcher });
    const first = { attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() };

    const { id } = await engine.startSaga("test.five", {});
    expect((await engine.runStep(queued.shift()!, first)).kind).toBe("advanced");
    const preclaimed = queued.shift()!;
    expect(preclaimed).toMatchObject({ stepIndex: 1, preclaim: { attempt: 1 } });

    // The operator aborts now: step 1's lease is taken, but its job has not started.
    await operations.abort(id, "stop before step 1", asTestOperator);
    // Then a worker picks the pre-claimed job up (its first delivery, within the lease).
    await engine.runStep(preclaimed, first);
    for (let job = queued.shift(); job; job = queued.shift()) await engine.runStep(job, first);

    expect(await calls(id, "execute")).toEqual([0]);
    expect(await calls(id, "compensate")).toEqual([0]);
    expect(await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true } })).toEqual({ status: "aborted" });
  });
});
