/**
 * An abort marks the saga in Redis (SET PX) before its transaction, and a pre-claimed step reads the
 * mark on its way in instead of PostgreSQL (engine.ts, noAbortSince). Redis may lose everything at
 * any moment: a FLUSHALL after the abort wipes the mark. These tests inject that wipe and check what
 * the saga ends as. Private redis-server (FLUSHALL on it only), real PostgreSQL, the engine's jobs
 * run by hand in order.
 *
 * The guarantee they pin down (README "Sagas"): the saga still ends `aborted`, every step that ran
 * is compensated, and no step's effect is left. What the wipe costs is that a step pre-claimed before
 * the abort may run once after it (it is then treated as a step in flight at the abort and undone).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullmqConnection } from "~/server/platform/redis";
import { asTestOperator } from "~test/support/audit";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import { createSagaEngine } from "./engine";
import { createSagaOperations } from "./operations";
import { abortMarkKey, createBullSagaDispatcher, createStepQueue, stepJobId } from "./step-queue";
import type { StepJob } from "./types";

// Ports 4800-4899 belong to this suite's author; 4810 is this file's private Redis.
const REDIS_PORT = 4810;

let app: TestApp;
let redis: PrivateRedis;
beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
  redis = await startPrivateRedis({ port: REDIS_PORT });
});
afterAll(async () => {
  await redis?.close();
  await app?.close();
});

function setUp() {
  const queue = createStepQueue({ connection: bullmqConnection(redis.url), prefix: app.prefix });
  const dispatcher = createBullSagaDispatcher(queue);
  const registry = testSagaRegistry(app.services.db, { timeoutMs: 5_000, attempts: 3 });
  const engine = createSagaEngine({ db: app.services.db, registry, dispatcher });
  const operations = createSagaOperations({ db: app.services.db, registry, dispatcher });
  const queued = async (job: StepJob): Promise<StepJob> => {
    const found = await queue.getJob(stepJobId(job));
    if (!found) throw new Error(`no job ${stepJobId(job)} in the queue`);
    return found.data as StepJob;
  };
  return { queue, engine, operations, queued, close: () => queue.close() };
}
const first = () => ({ attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() });

async function calls(sagaId: string, phase: "execute" | "compensate") {
  const rows = await app.services.db.$queryRaw<Array<{ step: number }>>`
    SELECT step FROM saga_test_call WHERE saga_id = ${sagaId}::uuid AND phase = ${phase} ORDER BY id`;
  return rows.map((r) => r.step);
}
/** Step effects still in force (done and not undone). */
async function effectsLeft(sagaId: string) {
  const rows = await app.services.db.$queryRaw<Array<{ step: number }>>`
    SELECT step FROM saga_test_effect WHERE saga_id = ${sagaId}::uuid AND NOT undone ORDER BY step`;
  return rows.map((r) => r.step);
}
const statusOf = (id: string) => app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true, lastError: true } });

/** Start a five-step saga, run step 0: step 1's lease is pre-claimed and its job is in Redis. */
async function sagaWithPreclaimedStep1(t: ReturnType<typeof setUp>) {
  const { id } = await t.engine.startSaga("test.five", {});
  const step0 = await t.engine.runStep(await t.queued({ sagaId: id, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 }), first());
  if (step0.kind !== "advanced" || !step0.next) throw new Error(JSON.stringify(step0));
  const preclaimed = await t.queued(step0.next);
  expect(preclaimed).toMatchObject({ stepIndex: 1, preclaim: { attempt: 1 } });
  return { id, preclaimed };
}

describe("an abort whose Redis mark is wiped (FLUSHALL) after it", () => {
  it("a worker already holding the pre-claimed job runs the step, and the saga still ends aborted with nothing left in effect", async () => {
    const t = setUp();
    try {
      const { id, preclaimed } = await sagaWithPreclaimedStep1(t);
      // The worker has taken step 1's job (its copy is `preclaimed`), not started it yet.
      await t.operations.abort(id, "stop before step 1", asTestOperator);
      const redisClient = redis.client();
      expect(await redisClient.exists(abortMarkKey(t.queue, { sagaId: id, generation: 0 }))).toBe(1);
      await redisClient.flushall(); // the injected fault: Redis loses the mark (and every job)
      expect(await redisClient.dbsize()).toBe(0);

      let outcome = await t.engine.runStep(preclaimed, first());
      // The mark is gone, so the pre-claim was used and step 1 ran after the abort ...
      expect(await calls(id, "execute")).toEqual([0, 1]);
      // ... but its finish found the saga moved (the abort bumped the version), decided again under
      // the row lock, saw the abort, and turned the saga around from step 1 itself.
      expect(outcome).toMatchObject({ kind: "advanced", status: "compensating", next: { phase: "compensate", stepIndex: 1 } });
      // Redis lost the jobs too: each next one is queued by the finish before it, as usual.
      while (outcome.kind === "advanced" && outcome.next) outcome = await t.engine.runStep(await t.queued(outcome.next), first());

      expect(await calls(id, "compensate")).toEqual([1, 0]);
      expect(await effectsLeft(id)).toEqual([]);
      expect(await statusOf(id)).toMatchObject({ status: "aborted", lastError: expect.stringContaining("stop before step 1") });
    } finally {
      await t.close();
    }
  });

  it("when the wipe also takes the job before any worker has it, the sweeper's job claims for real and step 1 never runs", async () => {
    const t = setUp();
    try {
      const { id } = await sagaWithPreclaimedStep1(t);
      await t.operations.abort(id, "stop before step 1", asTestOperator);
      await redis.client().flushall();

      // The sweeper finds the saga with no job and queues its current step (no pre-claim on it).
      expect(await t.engine.sweep({ stuckAfterMs: 0 })).toMatchObject({ redispatched: 1 });
      const swept = await t.queued({ sagaId: id, sagaType: "test.five", phase: "execute", stepIndex: 1, generation: 0 });
      expect(swept.preclaim).toBeUndefined();
      // The pre-claim's lease is still running: the real claim waits it out (the runner re-delays the
      // job); a test does not wait 7 s, so it ends the lease as its expiry would.
      await app.services.db.$executeRaw`
        UPDATE saga_step_log SET started_at = now() - interval '1 hour'
        WHERE saga_id = ${id}::uuid AND step_index = 1 AND phase = 'execute'`;
      let outcome = await t.engine.runStep(swept, first());
      while (outcome.kind === "advanced" && outcome.next) outcome = await t.engine.runStep(await t.queued(outcome.next), first());

      expect(await calls(id, "execute")).toEqual([0]);
      expect(await calls(id, "compensate")).toEqual([0]);
      expect(await effectsLeft(id)).toEqual([]);
      expect(await statusOf(id)).toMatchObject({ status: "aborted" });
    } finally {
      await t.close();
    }
  });
});
