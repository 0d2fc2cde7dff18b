/**
 * Issue 11, hole 10: an operator's abort must stop a step whose lease the previous step's finish
 * already took (the pre-claim fast path) but which has not started yet. The abort sees that lease
 * as "in flight" and lets it finish; the job, carrying the saga's state from before the abort,
 * must notice and not run the step. Real PostgreSQL; the engine's jobs are run by hand, in order.
 * Two ways the job notices: a dispatcher without abort marks makes it ask PostgreSQL (the first
 * test); the BullMQ dispatcher's marks in Redis (the others) spare every step that read.
 */
import pg from "pg";
import { asTestOperator } from "~test/support/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { inMemoryDispatcher } from "~test/support/saga";
import { createSagaEngine } from "./engine";
import { DomainError } from "../../platform/errors";
import { createSagaOperations } from "./operations";
import { createBullSagaDispatcher, createStepQueue, stepJobId } from "./step-queue";
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
  // Both ways a job learns of the abort: the mark, and PostgreSQL when the mark store cannot answer.
  const markStores = {
    "abort marks in memory": () => ({}),
    "mark store that cannot answer (PostgreSQL answers)": () => ({
      markAbort: async () => {},
      markAborts: async () => {},
      abortMarked: async (): Promise<boolean> => {
        throw new Error("mark store unreachable");
      },
    }),
  };
  it.each(Object.entries(markStores))("a step pre-claimed before the abort does not run; the saga compensates what ran and ends aborted (%s)", async (_, marks) => {
    const queued: StepJob[] = [];
    const dispatcher = inMemoryDispatcher({ dispatch: async (job: StepJob) => void queued.push(job), ...marks() });
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

describe("abort marks beside the step jobs (real BullMQ dispatcher)", () => {
  /** The step queue's jobs, run by hand in order: the job a step queued is read back from Redis. */
  async function setUp(prefix: string) {
    const queue = createStepQueue({ connection: app.bullConnection, prefix: `${app.queuePrefix}-${prefix}` });
    const dispatcher = createBullSagaDispatcher(queue);
    const pool = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
    // The engine's hot statements, by name: what a step costs in PostgreSQL.
    const statements: string[] = [];
    const sql = {
      query<T>(config: { name: string; text: string; values: unknown[] }) {
        statements.push(config.name);
        return pool.query(config) as unknown as Promise<{ rows: T[] }>;
      },
    };
    const registry = testSagaRegistry(app.services.db, { timeoutMs: 5_000, attempts: 3 });
    const engine = createSagaEngine({ db: app.services.db, sql, registry, dispatcher });
    const operations = createSagaOperations({ db: app.services.db, registry, dispatcher });
    const queued = async (job: StepJob): Promise<StepJob> => {
      const found = await queue.getJob(stepJobId(job));
      if (!found) throw new Error(`no job ${stepJobId(job)} in the queue`);
      return found.data as StepJob;
    };
    const close = async () => {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await pool.end();
    };
    return { queue, engine, operations, statements, queued, close };
  }
  const first = () => ({ attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() });

  it("a pre-claimed step costs one PostgreSQL statement, its finish (the abort check reads Redis)", async () => {
    const t = await setUp("mark-cost");
    try {
      const { id } = await t.engine.startSaga("test.five", {});
      let job: StepJob | null = await t.queued({ sagaId: id, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 });
      const perStep: string[][] = [];
      while (job) {
        expect(job.preclaim).toBeDefined();
        t.statements.length = 0;
        const outcome = await t.engine.runStep(job, first());
        perStep.push([...t.statements]);
        if (outcome.kind !== "advanced") throw new Error(`step ${job.stepIndex}: ${JSON.stringify(outcome)}`);
        job = outcome.next ? await t.queued(outcome.next) : null;
      }
      expect(perStep).toEqual(Array.from({ length: 5 }, () => ["saga_apply"]));
      expect(await calls(id, "execute")).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await t.close();
    }
  });

  it("a step pre-claimed before the abort does not run: its job sees the mark and claims for real", async () => {
    const t = await setUp("mark-abort");
    try {
      const { id } = await t.engine.startSaga("test.five", {});
      const step0 = await t.engine.runStep(await t.queued({ sagaId: id, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 }), first());
      if (step0.kind !== "advanced" || !step0.next) throw new Error(JSON.stringify(step0));
      const preclaimed = await t.queued(step0.next);
      expect(preclaimed).toMatchObject({ stepIndex: 1, preclaim: { attempt: 1 } });

      await t.operations.abort(id, "stop before step 1", asTestOperator);
      t.statements.length = 0;
      let outcome = await t.engine.runStep(preclaimed, first());
      // The mark sent it through the real claim (row lock, fresh state), which found the abort.
      expect(t.statements[0]).toBe("saga_claim");
      while (outcome.kind === "advanced" && outcome.next) outcome = await t.engine.runStep(await t.queued(outcome.next), first());

      expect(await calls(id, "execute")).toEqual([0]);
      expect(await calls(id, "compensate")).toEqual([0]);
      expect(await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true } })).toEqual({ status: "aborted" });
    } finally {
      await t.close();
    }
  });

  it("a job that cannot read the mark (Redis unreachable for it) asks PostgreSQL, and still does not run an aborted step", async () => {
    const t = await setUp("mark-unread");
    const dead = createStepQueue({ connection: { host: "127.0.0.1", port: 4214, maxRetriesPerRequest: null, enableOfflineQueue: true }, prefix: `${app.queuePrefix}-dead-read` });
    dead.on("error", () => {});
    try {
      const { id } = await t.engine.startSaga("test.five", {});
      const step0 = await t.engine.runStep(await t.queued({ sagaId: id, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 }), first());
      if (step0.kind !== "advanced" || !step0.next) throw new Error(JSON.stringify(step0));
      const preclaimed = await t.queued(step0.next);
      await t.operations.abort(id, "stop before step 1", asTestOperator);

      // A runner whose reads of the mark go to a Redis that does not answer.
      const healthy = createBullSagaDispatcher(t.queue);
      const blind = { ...healthy, abortMarked: createBullSagaDispatcher(dead, { timeoutMs: 300 }).abortMarked };
      const pool = new pg.Pool({ connectionString: app.databaseUrl, max: 1 });
      const statements: string[] = [];
      const sql = {
        query<T>(config: { name: string; text: string; values: unknown[] }) {
          statements.push(config.name);
          return pool.query(config) as unknown as Promise<{ rows: T[] }>;
        },
      };
      const engine = createSagaEngine({ db: app.services.db, sql, registry: testSagaRegistry(app.services.db, { timeoutMs: 5_000, attempts: 3 }), dispatcher: blind });
      try {
        let outcome = await engine.runStep(preclaimed, first());
        expect(statements.slice(0, 2)).toEqual(["saga_at_version", "saga_claim"]);
        while (outcome.kind === "advanced" && outcome.next) outcome = await engine.runStep(await t.queued(outcome.next), first());
      } finally {
        await pool.end();
      }
      expect(await calls(id, "execute")).toEqual([0]);
      expect(await calls(id, "compensate")).toEqual([0]);
      expect(await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true } })).toEqual({ status: "aborted" });
    } finally {
      await t.close();
      await dead.close().catch(() => {});
    }
  });

  it("an abort that cannot mark the saga (Redis unreachable) is refused and writes nothing", async () => {
    const dead = createStepQueue({ connection: { host: "127.0.0.1", port: 4213, maxRetriesPerRequest: null, enableOfflineQueue: true }, prefix: `${app.queuePrefix}-dead` });
    dead.on("error", () => {});
    const healthy = await setUp("mark-dead");
    try {
      const { id } = await healthy.engine.startSaga("test.five", {});
      const before = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true, version: true, context: true } });
      const registry = testSagaRegistry(app.services.db, { timeoutMs: 5_000, attempts: 3 });
      const operations = createSagaOperations({ db: app.services.db, registry, dispatcher: createBullSagaDispatcher(dead, { timeoutMs: 300 }) });
      const refused = await operations.abort(id, "Redis is down", asTestOperator).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(DomainError);
      expect(refused).toMatchObject({ kind: "precondition_failed", transient: true, message: expect.stringMatching(/Redis.*Try again/) });
      expect(await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true, version: true, context: true } })).toEqual(before);
    } finally {
      await healthy.close();
      await dead.close().catch(() => {});
    }
  });
});
