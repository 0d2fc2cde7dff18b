/**
 * A bulk abort or resume of sagas touches Redis (abort marks, step jobs). Those calls happen
 * BEFORE the batch's transaction begins, so a Redis that hangs (SIGSTOP: alive, answering nothing)
 * fails the batch without any row lock held, and the batch run again once Redis answers does it
 * whole. Private redis-server paused and resumed; real PostgreSQL, BullMQ and saga operations.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSagaRegistry } from "~/server/app-sagas";
import { bullmqConnection } from "~/server/platform/redis";
import { runBulkBatch } from "~/server/reliability/bulk/operations";
import type { BulkSagaActions } from "~/server/reliability/bulk/saga-target";
import { createSagaOperations } from "~/server/reliability/saga/operations";
import { abortMarkKey, createBullSagaDispatcher, createStepQueue, stepJobId } from "~/server/reliability/saga/step-queue";
import type { Queue } from "bullmq";
import { createTestApp, type TestApp } from "~test/support/app";
import { seedSagas } from "~test/support/bulk";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";

// Ports 46000-46999 belong to this suite's author; 46010 is this file's private Redis.
const REDIS_PORT = 46010;
/** The dispatcher's deadline here (the worker's is 5 s): long enough to look at the locks meanwhile. */
const DEADLINE_MS = 1_500;

let app: TestApp;
let redis: PrivateRedis;
let queue: Queue;
let sagas: BulkSagaActions;
let probe: pg.Client;
const db = () => app.services.db;

beforeAll(async () => {
  app = await createTestApp();
  redis = await startPrivateRedis({ port: REDIS_PORT });
  queue = createStepQueue({ connection: bullmqConnection(redis.url), prefix: app.prefix });
  queue.on("error", () => {});
  sagas = createSagaOperations({ db: db(), registry: appSagaRegistry(app.services), dispatcher: createBullSagaDispatcher(queue, { timeoutMs: DEADLINE_MS }) });
  probe = new pg.Client({ connectionString: app.databaseUrl });
  await probe.connect();
});
afterAll(async () => {
  redis?.resume();
  await probe?.end();
  await queue?.close();
  await redis?.close();
  await app?.close();
});

async function start(action: "saga.abort" | "saga.resume", filter: Record<string, unknown>, count: number) {
  const operator = await app.createUser({ role: "operator" });
  return app.caller(operator).admin.bulk.start({ target: "saga", action, filter, dryRunCount: count, batchSize: 10, reason: "redis paused test" });
}

/** Whether another session can lock these rows at once (NOWAIT): false while a batch holds them. */
async function lockable(operationId: string, sagaIds: string[]) {
  await probe.query("BEGIN");
  try {
    await probe.query("SELECT 1 FROM bulk_operation WHERE id = $1 FOR UPDATE NOWAIT", [operationId]);
    await probe.query("SELECT 1 FROM saga_instance WHERE id = ANY($1::uuid[]) FOR UPDATE NOWAIT", [sagaIds]);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "55P03") return false; // lock_not_available
    throw error;
  } finally {
    await probe.query("ROLLBACK");
  }
}

/**
 * Run one batch with Redis paused: while it waits for Redis, the operation's row and the sagas'
 * rows must stay free (probed every 100 ms); the batch fails once the dispatcher's deadline passes.
 */
async function batchWithRedisPaused(operationId: string, sagaIds: string[]) {
  redis.pause();
  try {
    const began = Date.now();
    const run = runBulkBatch(db(), operationId, { sagas }).then(
      () => null,
      (error: unknown) => error as Error,
    );
    let settled = false;
    void run.finally(() => (settled = true));
    const probes: boolean[] = [];
    while (!settled) {
      await new Promise((r) => setTimeout(r, 100));
      if (!settled) probes.push(await lockable(operationId, sagaIds));
    }
    return { error: await run, probes, elapsedMs: Date.now() - began };
  } finally {
    redis.resume();
  }
}

const auditActions = async (operationId: string) => (await db().operatorAudit.findMany({ where: { correlationId: operationId }, orderBy: { id: "asc" } })).map((r) => r.action);
const idsWithError = async (error: string) => (await db().sagaInstance.findMany({ where: { lastError: error }, orderBy: { id: "asc" }, select: { id: true } })).map((s) => s.id);

describe("a bulk saga batch while Redis hangs (SIGSTOP)", () => {
  it("abort: marks are written before the transaction, so no lock waits on Redis; nothing is aborted unmarked", async () => {
    await seedSagas(db(), { count: 4, status: "running", error: "abort-paused" });
    const ids = await idsWithError("abort-paused");
    const op = await start("saga.abort", { errorContains: "abort-paused" }, 4);

    const { error, probes, elapsedMs } = await batchWithRedisPaused(op.id, ids);
    expect(error?.message).toMatch(/Redis\) did not answer/);
    expect(probes.length).toBeGreaterThan(3); // it waited about the deadline, and was probed meanwhile
    expect(probes.every(Boolean)).toBe(true); // no row was locked while it waited
    expect(elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    // Nothing of the batch committed: no saga aborted, cursor and counts unmoved, no audit row.
    expect(await db().sagaInstance.count({ where: { id: { in: ids }, status: "running" } })).toBe(4);
    expect(await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } })).toMatchObject({ cursor: null, examined: 0, affected: 0, batches: 0 });
    expect(await auditActions(op.id)).toEqual(["bulk.start"]);

    // Redis answers again: the same batch runs whole, and every aborted saga's mark exists.
    expect(await runBulkBatch(db(), op.id, { sagas })).toEqual({ done: false, examined: 4, affected: 4 });
    expect(await db().sagaInstance.count({ where: { id: { in: ids }, status: "aborted" } })).toBe(4);
    const client = redis.client();
    for (const id of ids) expect(await client.exists(abortMarkKey(queue, { sagaId: id, generation: 0 }))).toBe(1);
    expect(await auditActions(op.id)).toEqual(["bulk.start", ...Array(4).fill("saga.abort"), "bulk.batch"]);
  });

  it("abort: a saga that moved to a new generation between the marks and the transaction is marked again, never aborted unmarked", async () => {
    await seedSagas(db(), { count: 3, status: "running", error: "abort-moved", offset: 5 });
    const ids = await idsWithError("abort-moved");
    const op = await start("saga.abort", { errorContains: "abort-moved" }, 3);
    let markings = 0;
    const moving: BulkSagaActions = {
      ...sagas,
      // After the first marks: the second saga finishes and is redriven (generation 1) before the batch begins.
      markAborts: async (batch) => {
        const marked = await sagas.markAborts(batch);
        markings += 1;
        if (markings === 1) await db().$executeRaw`UPDATE saga_instance SET context = jsonb_set(context, '{generation}', '1'), version = version + 1 WHERE id = ${ids[1]}::uuid`;
        return marked;
      },
    };
    expect(await runBulkBatch(db(), op.id, { sagas: moving })).toEqual({ done: false, examined: 3, affected: 3 });
    expect(markings).toBe(2);
    const client = redis.client();
    expect(await client.exists(abortMarkKey(queue, { sagaId: ids[1]!, generation: 1 }))).toBe(1);
    expect(await db().sagaInstance.count({ where: { id: { in: ids }, status: "aborted" } })).toBe(3);
  });

  it("resume: step jobs are queued before the transaction, so no lock waits on Redis; the resumes are recorded once it answers", async () => {
    await seedSagas(db(), { count: 3, status: "running", error: "resume-paused", idleMinutes: 20, offset: 10 });
    const ids = await idsWithError("resume-paused");
    const op = await start("saga.resume", { errorContains: "resume-paused", idleMinutes: 10 }, 3);

    const { error, probes } = await batchWithRedisPaused(op.id, ids);
    expect(error?.message).toMatch(/did not take the step job/);
    expect(probes.length).toBeGreaterThan(3);
    expect(probes.every(Boolean)).toBe(true);
    expect(await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } })).toMatchObject({ cursor: null, examined: 0, batches: 0 });
    expect(await auditActions(op.id)).toEqual(["bulk.start"]);

    // The job abandoned at the deadline may land once Redis runs again (same id: the same job); the
    // batch run again queues the rest, and every saga's step has exactly one live job.
    const outcome = await runBulkBatch(db(), op.id, { sagas });
    expect(outcome).toMatchObject({ done: false, examined: 3 });
    for (const id of ids) {
      const job = await queue.getJob(stepJobId({ sagaId: id, sagaType: "file.upload", phase: "execute", stepIndex: 0, generation: 0 }));
      expect(await job?.getState()).toBe("waiting");
    }
    expect(await auditActions(op.id)).toEqual(["bulk.start", ...Array(3).fill("saga.resume"), "bulk.batch"]);
  });
});
