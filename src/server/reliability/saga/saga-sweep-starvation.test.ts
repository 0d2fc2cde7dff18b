/**
 * The saga sweeper must not be starved by sagas it can never re-queue. Such sagas stay stuck, so
 * they stay the oldest: a sweeper that reads the 200 oldest stuck sagas each pass, from the start,
 * would see only them once there are more than 200. Two kinds are injected (rows written straight
 * into PostgreSQL, older than the one healthy stuck saga):
 *   - 250 sagas of a type this process does not know (another deployment's, or a removed saga),
 *   - 250 sagas at a step their definition no longer has (queuing their step throws).
 * Real PostgreSQL, real BullMQ on the test app's queue prefix.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { startTestSagaRunner } from "~test/support/saga";
import { waitFor } from "~test/support/wait-for";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import { createSagaEngine } from "./engine";
import { createBullSagaDispatcher, createStepQueue, stepJobId } from "./step-queue";

const POISON = 250;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
});
afterAll(() => app?.close());

/** `count` running sagas of `type` at `step`, idle since `minutesAgo` (one second apart, oldest first). */
async function insertStuck(type: string, step: number, count: number, minutesAgo: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await app.services.db.$executeRaw`
    INSERT INTO saga_instance (id, type, status, current_step, input, context, updated_at)
    SELECT id, ${type}, 'running', ${step}, '{}'::jsonb, '{"generation":0,"outputs":{}}'::jsonb,
           now() - ${minutesAgo} * interval '1 minute' + ord * interval '1 second'
    FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS t(id, ord)`;
  return ids;
}

async function clearStuck() {
  await app.services.db.$executeRaw`DELETE FROM saga_instance WHERE status = 'running'`;
}

function engineOnOwnQueue(name: string) {
  const queue = createStepQueue({ connection: app.bullConnection, prefix: `${app.queuePrefix}-${name}` });
  const engine = createSagaEngine({ db: app.services.db, registry: testSagaRegistry(app.services.db), dispatcher: createBullSagaDispatcher(queue) });
  const hasJob = async (sagaId: string) => (await queue.getJob(stepJobId({ sagaId, sagaType: "test.five", phase: "execute", stepIndex: 0, generation: 0 }))) !== undefined;
  const close = async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  };
  return { engine, hasJob, close };
}

describe("the saga sweeper behind sagas it can never re-queue", () => {
  it(`${POISON} stuck sagas of a type this process does not know do not hide a stuck saga it knows`, async () => {
    const t = engineOnOwnQueue("sweep-unknown");
    try {
      await insertStuck("test.removed-long-ago", 0, POISON, 120);
      const [normal] = await insertStuck("test.five", 0, 1, 60);

      const pass = await t.engine.sweep({ stuckAfterMs: 30_000 });
      // Only the types this process drives are read: the unknown ones cost it nothing.
      expect(pass).toMatchObject({ checked: 1, redispatched: 1, failed: 0, next: null });
      expect(await t.hasJob(normal!)).toBe(true);
    } finally {
      await t.close();
      await clearStuck();
    }
  });

  it(`${POISON} stuck sagas whose step cannot be queued are skipped, and the cursor reaches the saga behind them`, async () => {
    const t = engineOnOwnQueue("sweep-cursor");
    try {
      // test.five has steps 0-4: step 9 is gone from its definition, so queuing it throws.
      const poison = await insertStuck("test.five", 9, POISON, 120);
      const [normal] = await insertStuck("test.five", 0, 1, 60);

      const first = await t.engine.sweep({ stuckAfterMs: 30_000 });
      expect(first).toMatchObject({ checked: 200, redispatched: 0, failed: 200 });
      expect(first.failures[0]).toEqual({ sagaId: poison[0], error: expect.stringContaining("has no step 9") });
      expect(first.next).not.toBeNull();
      expect(await t.hasJob(normal!)).toBe(false);

      const second = await t.engine.sweep({ stuckAfterMs: 30_000, after: first.next });
      expect(second).toMatchObject({ checked: POISON - 200 + 1, redispatched: 1, failed: POISON - 200, next: null });
      expect(await t.hasJob(normal!)).toBe(true);

      // The pass after the end starts from the oldest again.
      expect(await t.engine.sweep({ stuckAfterMs: 30_000, after: second.next })).toMatchObject({ checked: 200, failed: 200 });
    } finally {
      await t.close();
      await clearStuck();
    }
  });

  it("the worker's sweeper carries its cursor from pass to pass: the healthy saga completes behind both kinds of poison", async () => {
    await insertStuck("test.removed-long-ago", 0, POISON, 180);
    await insertStuck("test.five", 9, POISON, 120);
    const [normal] = await insertStuck("test.five", 0, 1, 60);
    const runner = await startTestSagaRunner(app, testSagaRegistry(app.services.db), { sweepEveryMs: 100, stuckAfterMs: 30_000 });
    try {
      await waitFor(
        "the healthy stuck saga to complete",
        async () => (await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: normal! }, select: { status: true } })).status === "completed",
        30_000,
      );
      const effects = await app.services.db.$queryRaw<Array<{ step: number }>>`
        SELECT step FROM saga_test_effect WHERE saga_id = ${normal!}::uuid ORDER BY step`;
      expect(effects.map((e) => e.step)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await runner.close();
      await clearStuck();
    }
  });
});
