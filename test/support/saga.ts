/**
 * What the saga tests share: a saga runner in this process on the test app's queue, waiting for
 * sagas to settle, the blobs left on disk, and saga worker child processes to SIGKILL (the crash
 * suites' kill harness).
 */
import { fork, type ChildProcess } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { pino } from "pino";
import type { SagaRegistry } from "~/server/reliability/saga/definition";
import { createSagaService } from "~/server/reliability/saga/saga-service";
import { createBullSagaDispatcher, createStepQueue } from "~/server/reliability/saga/step-queue";
import type { AbortMarkKey, SagaDispatcher, SagaStatus } from "~/server/reliability/saga/types";
import type { TestApp } from "./app";
import { childEnvFor } from "./child-process";
import { startSagaRunner } from "./worker";

type SagaRunnerOptions = Parameters<typeof startSagaRunner>[0];

/**
 * A dispatcher that queues nothing (a test drives steps by hand or captures the jobs), with real
 * abort marks kept in memory: an abort through it still stops a pre-claimed job of the same
 * dispatcher, as Redis' marks would. Override dispatch/ensure to capture or fail.
 */
export function inMemoryDispatcher(overrides: Partial<SagaDispatcher> = {}): SagaDispatcher {
  const marks = new Map<string, number>();
  const key = (saga: AbortMarkKey) => `${saga.sagaId}_g${saga.generation}`;
  return {
    dispatch: async () => {},
    ensure: async () => false,
    markAbort: async (saga, ttlMs) => void marks.set(key(saga), Date.now() + ttlMs),
    markAborts: async (batch) => batch.forEach(({ saga, ttlMs }) => marks.set(key(saga), Date.now() + ttlMs)),
    abortMarked: async (saga) => (marks.get(key(saga)) ?? 0) > Date.now(),
    ...overrides,
  };
}

/** A saga runner on the test app's database (prepared statements on a pg pool) and queue. */
export function startTestSagaRunner(app: TestApp, registry: SagaRegistry, options: Partial<SagaRunnerOptions> = {}) {
  return startSagaRunner({
    connection: app.bullConnection,
    prefix: app.queuePrefix,
    db: app.services.db,
    databaseUrl: app.databaseUrl,
    registry,
    logger: pino({ level: process.env.SAGA_TEST_LOG ?? "silent" }),
    ...options,
  });
}

/**
 * A runner (startTestSagaRunner) and the saga service a test starts sagas through, on a step queue
 * of its own (the web side's), closed together.
 */
export async function startSagaTestBed(app: TestApp, registry: SagaRegistry, runnerOptions: Partial<SagaRunnerOptions> = {}) {
  const runner = await startTestSagaRunner(app, registry, runnerOptions);
  const queue = createStepQueue({ connection: app.bullConnection, prefix: app.queuePrefix });
  const sagas = createSagaService({ db: app.services.db, registry, dispatcher: createBullSagaDispatcher(queue) });
  return {
    runner,
    queue,
    sagas,
    async close() {
      await runner.close();
      await queue.close();
    },
  };
}

const MOVING: ReadonlyArray<SagaStatus> = ["running", "compensating"];

/**
 * Wait until none of these sagas is running or compensating; their statuses by id. The deadline
 * only bounds a failure (it throws naming the sagas still moving).
 */
export async function waitForSagasToSettle(app: TestApp, ids: string[], timeoutMs = 90_000): Promise<Map<string, SagaStatus>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
    const moving = rows.filter((r) => MOVING.includes(r.status));
    if (rows.length === ids.length && moving.length === 0) return new Map(rows.map((r) => [r.id, r.status]));
    if (Date.now() > deadline) throw new Error(`sagas still moving: ${JSON.stringify(moving)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every file under the test app's storage dir, relative to it, sorted. */
export async function storedBlobs(app: TestApp): Promise<string[]> {
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await walk(full)));
      else out.push(path.relative(app.storageDir, full));
    }
    return out;
  };
  return (await walk(app.storageDir)).sort();
}

const SAGA_CHILD = path.join(import.meta.dirname, "..", "fixtures", "saga", "child-runner.ts");

/**
 * The crash suites' worker timings: short BullMQ locks and stall checks and an eager sweeper, so a
 * SIGKILLed worker's jobs come back within seconds.
 */
const CRASH_TIMINGS: Record<string, string> = {
  SAGA_LOCK_MS: "1000",
  SAGA_STALLED_MS: "500",
  SAGA_SWEEP_MS: "500",
  SAGA_STUCK_MS: "2000",
  SAGA_CONCURRENCY: "4",
};

/**
 * Saga worker child processes (test/fixtures/saga/child-runner.ts) on the test app, with the crash
 * timings above overridden by `env` (SAGA_TIMEOUT_MS, SAGA_CHILD_SAGAS…), for a crash suite to
 * SIGKILL at random instants.
 */
export function sagaWorkerChildren(app: TestApp, env: Record<string, string> = {}) {
  const children = new Set<ChildProcess>();

  /** Start one worker and wait until it is ready (it says so over IPC). */
  async function spawn(): Promise<ChildProcess> {
    const child = fork(SAGA_CHILD, [], { execArgv: ["--import", "tsx"], env: childEnvFor(app, { ...CRASH_TIMINGS, ...env }), stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.add(child);
    child.on("exit", () => children.delete(child));
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`saga worker child exited with ${code} before it was ready`)));
    });
    return child;
  }

  /**
   * `rounds` times: wait a random gap in [minGapMs, maxGapMs), SIGKILL a random worker, wait for it
   * to die and start a replacement. The pids killed, in order.
   */
  async function killAndReplace(rounds: number, minGapMs: number, maxGapMs: number): Promise<number[]> {
    const killed: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      await new Promise((r) => setTimeout(r, minGapMs + Math.random() * (maxGapMs - minGapMs)));
      const victims = [...children];
      const victim = victims[Math.floor(Math.random() * victims.length)];
      if (victim?.pid) {
        killed.push(victim.pid);
        victim.kill("SIGKILL");
        await new Promise((r) => victim.once("exit", r));
      }
      await spawn();
    }
    return killed;
  }

  /** SIGKILL every worker still alive (afterAll). */
  function killAll() {
    for (const child of children) child.kill("SIGKILL");
  }

  return { spawn, killAndReplace, killAll };
}
