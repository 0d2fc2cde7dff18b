import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";
import { seedOutboxEvents, seedSagas } from "~test/support/bulk";
import { startBulkOperations } from "./bulk-operations";
import { waitFor } from "~test/fixtures/outbox.test-support";

/**
 * A bulk run's worker killed with SIGKILL in the middle of the run: the next worker resumes from
 * PostgreSQL alone (the committed cursor) and every row is acted on exactly once.
 */
let app: TestApp;
const db = () => app.services.db;
const ROWS = 5_000;

beforeAll(async () => {
  app = await createTestApp();
  await seedOutboxEvents(db(), { count: ROWS, status: "dead", error: "consumer x: boom" });
  // Every change of an event's status, counted per row (rolled back with the batch that made it).
  await db().$executeRawUnsafe(`CREATE TABLE status_change (event_id uuid NOT NULL)`);
  await db().$executeRawUnsafe(`CREATE FUNCTION count_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO status_change VALUES (NEW.id); RETURN NEW; END $$`);
  await db().$executeRawUnsafe(`CREATE TRIGGER count_status_change AFTER UPDATE OF status ON outbox_event
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION count_status_change()`);
}, 120_000);
afterAll(() => app.close());

/** Run the worker child (a real process, SIGKILLed once the operation has committed `batches` batches). */
async function killChildAfter(operationId: string, batches: number) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "bulk-operations.kill-child.ts")], {
    cwd: path.resolve(import.meta.dirname, "../.."),
    env: { ...process.env, DATABASE_URL: app.databaseUrl, REDIS_URL: TEST_REDIS_URL, PREFIX: app.prefix },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((r) => child.once("exit", r));
  try {
    await waitFor(`the child to commit a few batches (${stderr})`, async () => ((await db().bulkOperation.findUniqueOrThrow({ where: { id: operationId } })).batches >= batches ? true : null), 60_000, 5);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

describe("a bulk run whose worker is killed with SIGKILL", () => {
  it("resumes from the committed cursor in another worker and acts on every row exactly once", async () => {
    const op = await app.caller(await app.createUser({ role: "operator" })).admin.bulk.start({ action: "outbox.retry", dryRunCount: ROWS, batchSize: 25, reason: "kill test" });

    await killChildAfter(op.id, 5);
    const atKill = await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } });
    expect(atKill.status).toBe("running");
    expect(atKill.examined).toBeLessThan(ROWS);
    expect(atKill.examined).toBe(atKill.batches * 25);

    // The job died with its worker; a new worker's sweeper finds the operation standing still.
    const survivor = await startBulkOperations({ db: db(), connection: app.bullConnection, prefix: app.prefix, logger: app.services.logger, options: { sweepEveryMs: 200, staleAfterMs: 1_000, lockDurationMs: 60_000 } });
    try {
      const done = await waitFor("the resumed run to complete", async () => {
        const row = await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } });
        return row.status === "completed" ? row : null;
      }, 120_000, 100);
      expect(done).toMatchObject({ examined: ROWS, affected: ROWS, batches: ROWS / 25 });
    } finally {
      await survivor.close();
    }
    // Exactly once: each row changed status once, and each was in exactly one committed batch.
    const [changes] = await db().$queryRaw<Array<{ n: number; distinct_ids: number; max_per_row: number }>>`
      SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct_ids,
             coalesce(max(c), 0)::int AS max_per_row FROM (SELECT event_id, count(*) OVER (PARTITION BY event_id) AS c FROM status_change) x`;
    expect(changes).toEqual({ n: ROWS, distinct_ids: ROWS, max_per_row: 1 });
    const [batches] = await db().$queryRaw<Array<{ ids: number; distinct_ids: number; affected: number }>>`
      SELECT count(*)::int AS ids, count(DISTINCT t)::int AS distinct_ids, (SELECT sum(affected_count)::int FROM operator_audit WHERE correlation_id = ${op.id} AND action = 'bulk.batch') AS affected
      FROM operator_audit a, jsonb_array_elements_text(a.target_ids) t WHERE a.correlation_id = ${op.id} AND a.action = 'bulk.batch'`;
    expect(batches).toEqual({ ids: ROWS, distinct_ids: ROWS, affected: ROWS });
    expect(await db().outboxEvent.count({ where: { status: "pending" } })).toBe(ROWS);
  }, 240_000);

  it("a bulk redrive of sagas: resumed in another worker, every saga redriven exactly once", async () => {
    const SAGAS = 600;
    await seedSagas(db(), { count: SAGAS, status: "failed", error: "step store-blob: kill test", offset: 200 });
    // Every change of a saga's status, counted per saga (rolled back with the batch that made it).
    await db().$executeRawUnsafe(`CREATE TABLE saga_status_change (saga_id uuid NOT NULL)`);
    await db().$executeRawUnsafe(`CREATE FUNCTION count_saga_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO saga_status_change VALUES (NEW.id); RETURN NEW; END $$`);
    await db().$executeRawUnsafe(`CREATE TRIGGER count_saga_status_change AFTER UPDATE OF status ON saga_instance
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION count_saga_status_change()`);
    const operator = await app.createUser({ role: "operator" });
    const op = await app.caller(operator).admin.bulk.start({ target: "saga", action: "saga.redrive", filter: { errorContains: "kill test" }, dryRunCount: SAGAS, batchSize: 10, reason: "kill test" });

    await killChildAfter(op.id, 5);
    const atKill = await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } });
    expect(atKill.status).toBe("running");
    expect(atKill.examined).toBeLessThan(SAGAS);
    expect(atKill.examined).toBe(atKill.batches * 10);
    // What the killed worker committed is exactly what PostgreSQL shows as redriven: no half batch.
    expect(await db().sagaInstance.count({ where: { status: "running" } })).toBe(atKill.affected);

    const survivor = await startBulkOperations({
      db: db(),
      connection: app.bullConnection,
      prefix: app.prefix,
      logger: app.services.logger,
      sagaRegistry: app.services.sagas.registry,
      options: { sweepEveryMs: 200, staleAfterMs: 1_000, lockDurationMs: 60_000 },
    });
    try {
      const done = await waitFor("the resumed saga run to complete", async () => {
        const row = await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } });
        return row.status === "completed" ? row : null;
      }, 120_000, 100);
      expect(done).toMatchObject({ examined: SAGAS, affected: SAGAS, batches: SAGAS / 10 });
    } finally {
      await survivor.close();
    }
    // Exactly once: each saga changed status once, is at generation 1 (a second redrive would make
    // it 2), and has one saga.redrive audit row, in exactly one committed batch.
    const [changes] = await db().$queryRaw<Array<{ n: number; distinct_ids: number }>>`
      SELECT count(*)::int AS n, count(DISTINCT saga_id)::int AS distinct_ids FROM saga_status_change`;
    expect(changes).toEqual({ n: SAGAS, distinct_ids: SAGAS });
    const [generations] = await db().$queryRaw<Array<{ n: number; gen1: number }>>`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE (context->>'generation')::int = 1)::int AS gen1 FROM saga_instance WHERE status = 'running'`;
    expect(generations).toEqual({ n: SAGAS, gen1: SAGAS });
    const [audit] = await db().$queryRaw<Array<{ redrives: number; distinct_redrives: number; batch_ids: number; distinct_batch_ids: number }>>`
      SELECT (SELECT count(*)::int FROM operator_audit WHERE correlation_id = ${op.id} AND action = 'saga.redrive') AS redrives,
             (SELECT count(DISTINCT target_ids->>0)::int FROM operator_audit WHERE correlation_id = ${op.id} AND action = 'saga.redrive') AS distinct_redrives,
             (SELECT count(*)::int FROM operator_audit a, jsonb_array_elements_text(a.target_ids) t WHERE a.correlation_id = ${op.id} AND a.action = 'bulk.batch') AS batch_ids,
             (SELECT count(DISTINCT t)::int FROM operator_audit a, jsonb_array_elements_text(a.target_ids) t WHERE a.correlation_id = ${op.id} AND a.action = 'bulk.batch') AS distinct_batch_ids`;
    expect(audit).toEqual({ redrives: SAGAS, distinct_redrives: SAGAS, batch_ids: SAGAS, distinct_batch_ids: SAGAS });
  }, 240_000);

  it("keeps nothing in Redis that it needs: a queued job lost with Redis is queued again by the sweeper", async () => {
    await seedOutboxEvents(db(), { count: 10, status: "failed", error: "lost job test", offset: 100 });
    const operator = await app.createUser({ role: "operator" });
    const op = await app.caller(operator).admin.bulk.start({ action: "outbox.discard", filter: { errorContains: "lost job test" }, dryRunCount: 10 });
    // Redis forgot the job (restarted empty): only PostgreSQL knows the operation.
    const { Queue } = await import("bullmq");
    const raw = new Queue("bulk-operations", { connection: app.bullConnection, prefix: app.prefix });
    await raw.obliterate({ force: true });
    await raw.close();
    const worker = await startBulkOperations({ db: db(), connection: app.bullConnection, prefix: app.prefix, logger: app.services.logger, options: { sweepEveryMs: 200, staleAfterMs: 500 } });
    try {
      const done = await waitFor("the swept operation to complete", async () => {
        const row = await db().bulkOperation.findUniqueOrThrow({ where: { id: op.id } });
        return row.status === "completed" ? row : null;
      }, 30_000, 100);
      expect(done.affected).toBe(10);
    } finally {
      await worker.close();
    }
  });
});
