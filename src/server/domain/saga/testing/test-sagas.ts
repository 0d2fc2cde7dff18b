/**
 * Test-only saga definitions (never registered by the app). Each step records what it did in tables
 * the test creates in its own database, so assertions read real side effects:
 *   saga_test_effect  — one row per step execution id (the idempotent side effect; compensation marks it undone)
 *   saga_test_call    — every call of execute/compensate, in order (who, when)
 *   saga_test_running — the step phases running right now; a second runner of the same one is a violation
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { Db } from "~/server/platform/db/client";
import { createSagaRegistry, defineSaga, PermanentStepError, type SagaStep } from "../../../reliability/saga/definition";

export const TEST_TABLES_SQL = [
  `CREATE TABLE IF NOT EXISTS saga_test_effect (execution_id text PRIMARY KEY, saga_id uuid NOT NULL, step int NOT NULL, undone boolean NOT NULL DEFAULT false)`,
  `CREATE TABLE IF NOT EXISTS saga_test_call (id bigserial PRIMARY KEY, saga_id uuid NOT NULL, step int NOT NULL, phase text NOT NULL, pid int NOT NULL, attempt int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  `CREATE TABLE IF NOT EXISTS saga_test_running (key text PRIMARY KEY, pid int NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS saga_test_violation (id bigserial PRIMARY KEY, key text NOT NULL, pid int NOT NULL, other_pid int NOT NULL)`,
  // A saga listed here is "healed": its injected failures stop (so retry and redrive can succeed).
  `CREATE TABLE IF NOT EXISTS saga_test_healed (saga_id uuid PRIMARY KEY)`,
];

async function healed(db: Db, sagaId: string): Promise<boolean> {
  const rows = await db.$queryRaw<unknown[]>`SELECT 1 FROM saga_test_healed WHERE saga_id = ${sagaId}::uuid`;
  return rows.length > 0;
}

export const testSagaInput = z.object({
  /** Execute of this step fails for good (PermanentStepError). */
  failAt: z.number().int().min(0).optional(),
  /** Compensation of this step fails for good. */
  failCompensationAt: z.number().int().min(0).optional(),
  /** Each step sleeps this long (honouring the timeout signal). */
  sleepMs: z.number().int().min(0).default(0),
  /** Random extra sleep up to this many ms, to spread kills over step boundaries and mid-step. */
  jitterMs: z.number().int().min(0).default(0),
  /** The first N attempts of every execute fail (transient errors). */
  flakyAttempts: z.number().int().min(0).default(0),
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Mark this phase of this execution as running; record a violation if a live process already runs it. */
async function enter(db: Db, key: string) {
  const pid = process.pid;
  const rows = await db.$queryRaw<Array<{ pid: number }>>`
    INSERT INTO saga_test_running (key, pid) VALUES (${key}, ${pid})
    ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING pid`;
  const holder = rows[0]!.pid;
  if (holder === pid) return;
  // A dead holder was SIGKILLed mid-step: taking over is the point of recovery, not a violation.
  if (alive(holder)) await db.$executeRaw`INSERT INTO saga_test_violation (key, pid, other_pid) VALUES (${key}, ${pid}, ${holder})`;
  await db.$executeRaw`UPDATE saga_test_running SET pid = ${pid} WHERE key = ${key}`;
}

async function leave(db: Db, key: string) {
  await db.$executeRaw`DELETE FROM saga_test_running WHERE key = ${key} AND pid = ${process.pid}`;
}

export function testSagaRegistry(db: Db, options: { timeoutMs?: number; attempts?: number } = {}) {
  const step = (index: number): SagaStep<z.infer<typeof testSagaInput>> => ({
    name: `step-${index}`,
    async execute(ctx) {
      const key = `${ctx.executionId}:execute`;
      await db.$executeRaw`INSERT INTO saga_test_call (saga_id, step, phase, pid, attempt) VALUES (${ctx.sagaId}::uuid, ${index}, 'execute', ${process.pid}, ${ctx.attempt})`;
      await enter(db, key);
      try {
        const pause = ctx.input.sleepMs + Math.floor(Math.random() * (ctx.input.jitterMs + 1));
        if (pause > 0) await sleep(pause, undefined, { signal: ctx.signal });
        if (ctx.input.failAt === index && !(await healed(db, ctx.sagaId))) throw new PermanentStepError(`injected failure at step ${index}`);
        if (ctx.attempt <= ctx.input.flakyAttempts) throw new Error(`transient failure at step ${index}, attempt ${ctx.attempt}`);
        await db.$executeRaw`
          INSERT INTO saga_test_effect (execution_id, saga_id, step) VALUES (${ctx.executionId}, ${ctx.sagaId}::uuid, ${index})
          ON CONFLICT (execution_id) DO NOTHING`;
        return { step: index, sawOutputs: Object.keys(ctx.outputs).sort() };
      } finally {
        await leave(db, key);
      }
    },
    async compensate(ctx) {
      const key = `${ctx.executionId}:compensate`;
      await db.$executeRaw`INSERT INTO saga_test_call (saga_id, step, phase, pid, attempt) VALUES (${ctx.sagaId}::uuid, ${index}, 'compensate', ${process.pid}, ${ctx.attempt})`;
      await enter(db, key);
      try {
        const pause = Math.floor(Math.random() * (ctx.input.jitterMs + 1));
        if (pause > 0) await sleep(pause, undefined, { signal: ctx.signal });
        if (ctx.input.failCompensationAt === index && !(await healed(db, ctx.sagaId))) throw new Error(`injected compensation failure at step ${index}`);
        await db.$executeRaw`UPDATE saga_test_effect SET undone = true WHERE execution_id = ${ctx.executionId}`;
      } finally {
        await leave(db, key);
      }
    },
  });
  return createSagaRegistry([
    defineSaga({
      type: "test.five",
      input: testSagaInput,
      steps: [0, 1, 2, 3, 4].map(step),
      retry: { attempts: options.attempts ?? 3, backoffMs: 20 },
      timeoutMs: options.timeoutMs ?? 2_000,
    }),
  ]);
}
