/**
 * Crash recovery: saga workers as child processes, SIGKILLed at random instants (between steps,
 * mid-step, mid-compensation) and replaced, while 40 sagas run. Every saga must still end
 * `completed` or `compensated`, each side effect must have happened once (or been undone), and no
 * step may ever have run in two live processes at once.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { sagaWorkerChildren, waitForSagasToSettle } from "~test/support/saga";
import { createSagaService, type SagaService } from "./saga-service";
import { createBullSagaDispatcher, createStepQueue } from "./step-queue";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";

let app: TestApp;
let sagas: SagaService;
let queue: ReturnType<typeof createStepQueue>;
let workers: ReturnType<typeof sagaWorkerChildren>;

beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
  queue = createStepQueue({ connection: app.bullConnection, prefix: app.queuePrefix });
  sagas = createSagaService({ db: app.services.db, registry: testSagaRegistry(app.services.db), dispatcher: createBullSagaDispatcher(queue) });
  workers = sagaWorkerChildren(app, { SAGA_TIMEOUT_MS: "1500" });
});

afterAll(async () => {
  workers?.killAll();
  await queue?.close();
  await app?.close();
});

it("SIGKILL of workers at step boundaries and mid-step: every saga ends completed or compensated, effects exactly once", async () => {
  await Promise.all([workers.spawn(), workers.spawn()]);
  const plans = Array.from({ length: 40 }, (_, i) => ({ failAt: i % 4 === 0 ? (i / 4) % 5 : undefined, sleepMs: 60, jitterMs: 200 }));
  const started = await Promise.all(plans.map((input) => sagas.startSaga("test.five", input)));

  // Chaos: 8 times, 250–600 ms apart, kill a random runner with SIGKILL and start a replacement.
  const killed = await workers.killAndReplace(8, 250, 600);

  // Let the survivors finish (stalled jobs, expired leases and the sweeper bring everything home).
  const ids = started.map((s) => s.id);
  const status = await waitForSagasToSettle(app, ids);

  for (const [i, { id }] of started.entries()) {
    const failAt = plans[i]!.failAt;
    const effects = await app.services.db.$queryRaw<Array<{ step: number; undone: boolean }>>`
      SELECT step, undone FROM saga_test_effect WHERE saga_id = ${id}::uuid ORDER BY step`;
    if (failAt === undefined) {
      expect(status.get(id), `saga ${i}`).toBe("completed");
      expect(effects, `saga ${i}`).toEqual([0, 1, 2, 3, 4].map((step) => ({ step, undone: false })));
    } else {
      expect(status.get(id), `saga ${i}`).toBe("compensated");
      expect(effects, `saga ${i}`).toEqual([...Array(failAt).keys()].map((step) => ({ step, undone: true })));
    }
  }

  // No step phase ever ran in two live processes at once.
  const [violations] = await app.services.db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM saga_test_violation`;
  expect(violations!.n).toBe(0);
  // The kills really landed while steps ran: killed processes had started steps.
  const [hit] = await app.services.db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM saga_test_call WHERE pid = ANY(${[...killed]}::int[])`;
  expect(new Set(killed).size).toBe(8);
  expect(hit!.n).toBeGreaterThan(0);
  // …and some steps were cut mid-way and taken over after the lease expired (attempts > 1), with
  // each such step's effect still recorded once (the effect table's key is the execution id).
  const [reclaimed] = await app.services.db.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM saga_step_log WHERE saga_id = ANY(${ids}::uuid[]) AND attempts > 1`;
  expect(reclaimed!.n).toBeGreaterThan(0);
}, 150_000);
