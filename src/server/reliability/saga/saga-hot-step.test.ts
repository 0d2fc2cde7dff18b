/**
 * A saga step's UPDATE of saga_instance must stay a HOT update (no index entries written) while the
 * saga's status stays the same: so it may change no column any index of the table names, including
 * the columns partial indexes' predicates read. The step's heartbeat is progressed_at (in no index);
 * updated_at (indexed) moves only with the status. And the sweeper must still find a saga that
 * stopped moving, and leave alone one whose status is old but whose steps move.
 * Real PostgreSQL (the test app's migrated database), real BullMQ.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { inMemoryDispatcher } from "~test/support/saga";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import { createSagaEngine } from "./engine";
import { createSagaQueries } from "./queries";
import type { StepJob } from "./types";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
});
afterAll(() => app?.close());

/** The columns of saga_instance any index names (key columns, expressions, partial predicates). */
async function indexedColumns(): Promise<string[]> {
  const rows = await app.services.db.$queryRaw<Array<{ col: string }>>`
    SELECT DISTINCT a.attname AS col
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE i.indrelid = 'saga_instance'::regclass
      AND (a.attnum = ANY (i.indkey::int2[])
           OR pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M')
           OR pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M'))
    ORDER BY 1`;
  return rows.map((r) => r.col);
}

describe("a saga step's UPDATE stays HOT", () => {
  it("no index of saga_instance names a column every step writes (progressed_at, version, current_step, context)", async () => {
    const indexed = await indexedColumns();
    expect(indexed).toContain("updated_at"); // the sweeper's and the dashboard's index is still there
    for (const col of ["progressed_at", "version", "current_step", "context"]) expect(indexed).not.toContain(col);
  });

  it("saga_instance keeps room on its pages for a step's new row version (fillfactor)", async () => {
    const [row] = await app.services.db.$queryRaw<Array<{ options: string[] | null }>>`
      SELECT reloptions AS options FROM pg_class WHERE oid = 'saga_instance'::regclass`;
    expect(row!.options).toContain("fillfactor=80");
  });

  it("a step that keeps the status moves progressed_at, not updated_at; the step that changes the status moves both", async () => {
    const queued: StepJob[] = [];
    const engine = createSagaEngine({ db: app.services.db, registry: testSagaRegistry(app.services.db), dispatcher: inMemoryDispatcher({ dispatch: async (j) => void queued.push(j) }) });
    const { id } = await engine.startSaga("test.five", {});
    const read = () =>
      app.services.db.sagaInstance.findUniqueOrThrow({ where: { id }, select: { status: true, updatedAt: true, progressedAt: true } });
    const started = await read();
    expect(started.progressedAt).toBeNull();
    const attempt = { attemptsMade: 0, maxAttempts: 3, queuedAt: Date.now() };
    await new Promise((r) => setTimeout(r, 5));
    expect((await engine.runStep(queued.shift()!, attempt)).kind).toBe("advanced");
    const afterStep0 = await read();
    expect(afterStep0).toMatchObject({ status: "running", updatedAt: started.updatedAt });
    expect(afterStep0.progressedAt!.getTime()).toBeGreaterThan(started.updatedAt.getTime());
    // Readers still see "updated" as the last change, the step included.
    const queries = createSagaQueries({ db: app.services.db, registry: testSagaRegistry(app.services.db) });
    expect((await queries.timeline(id)).updatedAt).toEqual(afterStep0.progressedAt);
    expect((await queries.list({ limit: 50 })).items.find((s) => s.id === id)?.updatedAt).toEqual(afterStep0.progressedAt);
    for (let job = queued.shift(); job; job = queued.shift()) await engine.runStep(job, attempt);
    const done = await read();
    expect(done.status).toBe("completed");
    expect(done.updatedAt.getTime()).toBeGreaterThan(started.updatedAt.getTime());
  });
});

describe("the sweeper with updated_at moving only with the status", () => {
  async function insertRunning(statusSinceMinutes: number, progressedMinutesAgo: number | null): Promise<string> {
    const id = randomUUID();
    await app.services.db.$executeRaw`
      INSERT INTO saga_instance (id, type, status, current_step, input, context, updated_at, progressed_at)
      VALUES (${id}::uuid, 'test.five', 'running', 1, '{}'::jsonb, '{"generation":0,"outputs":{}}'::jsonb,
              now() - ${statusSinceMinutes} * interval '1 minute',
              CASE WHEN ${progressedMinutesAgo}::int IS NULL THEN NULL ELSE now() - ${progressedMinutesAgo}::int * interval '1 minute' END)`;
    return id;
  }

  it("re-queues a saga whose last step is old, never one whose status is old but whose steps still move", async () => {
    const ensured: string[] = [];
    const engine = createSagaEngine({
      db: app.services.db,
      registry: testSagaRegistry(app.services.db),
      dispatcher: inMemoryDispatcher({ ensure: async (job) => (ensured.push(job.sagaId), true) }),
    });
    const moving = await insertRunning(60, 0);
    const stopped = await insertRunning(60, 10);
    const neverStepped = await insertRunning(60, null);
    try {
      const pass = await engine.sweep({ stuckAfterMs: 30_000 });
      expect(ensured).toContain(stopped);
      expect(ensured).toContain(neverStepped);
      expect(ensured).not.toContain(moving);
      expect(pass.redispatched).toBe(ensured.length);
    } finally {
      await app.services.db.$executeRaw`DELETE FROM saga_instance WHERE id = ANY(${[moving, stopped, neverStepped]}::uuid[])`;
    }
  });

  it("the stuck-saga query can be served by the (status, updated_at) index (no sequential scan needed)", async () => {
    // Sequential scans priced out for this transaction only: the plan then shows whether an index
    // can answer the query at all (a test table is too small for the planner to prefer one).
    const plan = await app.services.db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SET LOCAL enable_seqscan = off");
      const rows = await tx.$queryRawUnsafe<Array<{ "QUERY PLAN": string }>>(`
        EXPLAIN SELECT id FROM saga_instance
        WHERE status IN ('running', 'compensating') AND updated_at < now() - interval '30 seconds'
          AND (progressed_at IS NULL OR progressed_at < now() - interval '30 seconds')
        ORDER BY updated_at, id LIMIT 200`);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toMatch(/saga_instance_status_updated_at_idx/);
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
