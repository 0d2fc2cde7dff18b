/**
 * Crash recovery: saga workers as child processes, SIGKILLed at random instants (between steps,
 * mid-step, mid-compensation) and replaced, while 40 sagas run. Every saga must still end
 * `completed` or `compensated`, each side effect must have happened once (or been undone), and no
 * step may ever have run in two live processes at once.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";
import { createSagaService, type SagaService } from "./saga-service";
import { createBullSagaDispatcher, createStepQueue } from "./step-queue";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";

let app: TestApp;
let sagas: SagaService;
let queue: ReturnType<typeof createStepQueue>;
const children = new Set<ChildProcess>();

const CHILD = path.join(import.meta.dirname, "..", "..", "..", "..", "test", "fixtures", "saga", "child-runner.ts");

async function spawnRunner(): Promise<ChildProcess> {
  const child = fork(CHILD, [], {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      DATABASE_URL: app.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: app.prefix,
      SAGA_TIMEOUT_MS: "1500",
      SAGA_LOCK_MS: "1000",
      SAGA_STALLED_MS: "500",
      SAGA_SWEEP_MS: "500",
      SAGA_STUCK_MS: "2000",
      SAGA_CONCURRENCY: "4",
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`saga runner exited with ${code} before it was ready`)));
  });
  return child;
}

beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
  queue = createStepQueue({ connection: app.bullConnection, prefix: app.queuePrefix });
  sagas = createSagaService({ db: app.services.db, registry: testSagaRegistry(app.services.db), dispatcher: createBullSagaDispatcher(queue) });
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await queue?.close();
  await app?.close();
});

it("SIGKILL of workers at step boundaries and mid-step: every saga ends completed or compensated, effects exactly once", async () => {
  await Promise.all([spawnRunner(), spawnRunner()]);
  const plans = Array.from({ length: 40 }, (_, i) => ({ failAt: i % 4 === 0 ? (i / 4) % 5 : undefined, sleepMs: 60, jitterMs: 200 }));
  const started = await Promise.all(plans.map((input) => sagas.startSaga("test.five", input)));

  // Chaos: 8 times, 250–600 ms apart, kill a random runner with SIGKILL and start a replacement.
  const killed = new Set<number>();
  for (let round = 0; round < 8; round += 1) {
    await new Promise((r) => setTimeout(r, 250 + Math.random() * 350));
    const victims = [...children];
    const victim = victims[Math.floor(Math.random() * victims.length)];
    if (victim?.pid) {
      killed.add(victim.pid);
      victim.kill("SIGKILL");
      await new Promise((r) => victim.once("exit", r));
    }
    await spawnRunner();
  }

  // Let the survivors finish (stalled jobs, expired leases and the sweeper bring everything home).
  const ids = started.map((s) => s.id);
  const deadline = Date.now() + 90_000;
  let rows: Array<{ id: string; status: string }> = [];
  for (;;) {
    rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
    if (rows.every((r) => r.status === "completed" || r.status === "compensated" || r.status === "failed" || r.status === "aborted")) break;
    if (Date.now() > deadline) throw new Error(`sagas still moving: ${JSON.stringify(rows.filter((r) => r.status === "running" || r.status === "compensating"))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const status = new Map(rows.map((r) => [r.id, r.status]));

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
  expect(killed.size).toBe(8);
  expect(hit!.n).toBeGreaterThan(0);
  // …and some steps were cut mid-way and taken over after the lease expired (attempts > 1), with
  // each such step's effect still recorded once (the effect table's key is the execution id).
  const [reclaimed] = await app.services.db.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM saga_step_log WHERE saga_id = ANY(${ids}::uuid[]) AND attempts > 1`;
  expect(reclaimed!.n).toBeGreaterThan(0);
}, 150_000);
