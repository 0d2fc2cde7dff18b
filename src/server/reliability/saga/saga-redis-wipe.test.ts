/**
 * Issue 9's audit of the other job kinds: saga steps are BullMQ jobs too. When Redis loses them
 * (FLUSHALL under running workers, or a restart empty while the worker is down), the sweeper — a
 * plain timer reading PostgreSQL, not a BullMQ job — must queue each saga's current step again, and
 * every step's effect must still happen exactly once. Private redis-server, real PostgreSQL.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullmqConnection } from "~/server/platform/redis";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { startSagaRunner } from "~test/support/worker";
import { createSagaService, type SagaService } from "./saga-service";
import { createBullSagaDispatcher, createStepQueue } from "./step-queue";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";

let app: TestApp;
let redis: PrivateRedis;
let queue: ReturnType<typeof createStepQueue>;
let sagas: SagaService;
// A timeout no step here comes near on a loaded machine; recovery waits out one lease (timeout +
// 2 s), so the deadline below leaves room for that and then some (it only bounds a failure).
const STEP_TIMEOUT_MS = 5_000;
const registry = () => testSagaRegistry(app.services.db, { timeoutMs: STEP_TIMEOUT_MS, attempts: 3 });

beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
  redis = await startPrivateRedis();
  queue = createStepQueue({ connection: bullmqConnection(redis.url), prefix: app.prefix });
  queue.on("error", () => {}); // Redis is stopped on purpose below
  sagas = createSagaService({ db: app.services.db, registry: registry(), dispatcher: createBullSagaDispatcher(queue) });
});
afterAll(async () => {
  await queue?.close();
  await redis?.close();
  await app?.close();
});

function startRunner() {
  return startSagaRunner({
    connection: bullmqConnection(redis.url),
    prefix: app.prefix,
    db: app.services.db,
    registry: registry(),
    logger: pino({ level: process.env.SAGA_TEST_LOG ?? "silent" }),
    concurrency: 8,
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    sweepEveryMs: 200,
    stuckAfterMs: 1_000,
  });
}

async function waitForCompleted(ids: string[], timeoutMs = 30_000 + 2 * STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
    if (rows.every((r) => r.status === "completed" || r.status === "compensated" || r.status === "failed")) return rows;
    if (Date.now() > deadline) throw new Error(`sagas not finished: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Each saga completed with exactly one live effect per step, and no step ran twice at once. */
async function expectExactlyOnce(ids: string[]) {
  const rows = await waitForCompleted(ids);
  expect(rows.map((r) => r.status)).toEqual(ids.map(() => "completed"));
  for (const id of ids) {
    const effects = await app.services.db.$queryRaw<Array<{ step: number; n: number }>>`
      SELECT step, count(*)::int AS n FROM saga_test_effect WHERE saga_id = ${id}::uuid AND NOT undone GROUP BY step ORDER BY step`;
    expect(effects).toEqual([0, 1, 2, 3, 4].map((step) => ({ step, n: 1 })));
  }
  const violations = await app.services.db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM saga_test_violation`;
  expect(violations[0]?.n).toBe(0);
}

describe("sagas after Redis lost their step jobs", () => {
  it("FLUSHALL under running workers: the sweeper re-drives every saga to completed, each effect once", async () => {
    const runner = await startRunner();
    try {
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push((await sagas.startSaga("test.five", { sleepMs: 150, jitterMs: 50 })).id);
      // Let them get under way: some steps done, some running, some queued.
      await new Promise((r) => setTimeout(r, 400));
      await redis.client().flushall();
      await expectExactlyOnce(ids);
    } finally {
      await runner.close();
    }
  });

  it("Redis restarted empty while the worker was down: the restarted worker's sweeper finishes every saga", async () => {
    const runner = await startRunner();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await sagas.startSaga("test.five", { sleepMs: 150 })).id);
    await new Promise((r) => setTimeout(r, 300));
    await runner.close();
    await redis.stop();
    await redis.restart();
    const restarted = await startRunner();
    try {
      await expectExactlyOnce(ids);
    } finally {
      await restarted.close();
    }
  });
});
