import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "~test/support/database";
import { captureStatements, explainAll } from "~test/support/query-plans";
import { sagaInsertSql } from "~test/support/dashboard-seed";
import pg from "pg";
import { createDb, type Db } from "../../platform/db/client";
import { createSagaRegistry } from "./definition";
import { createSagaQueries } from "./queries";
import { uuidv7Floor } from "../outbox/queries";

/**
 * The dashboard's saga overview (sagas.metrics) reads an index at every size, never the whole
 * table. The statements are the ones `metrics` really sends (captured, then EXPLAINed with their
 * parameters), on the dashboard bench's own rows.
 *
 * Tables are only ANALYZEd, not VACUUMed: fresh rows have no all-visible pages yet, so an index
 * walk costs heap fetches — the state in which, at 10k sagas, the capped count of `completed`
 * (94% of the rows) used to be planned as a Seq Scan + Sort (the bench's one Seq Scan). After a
 * VACUUM the plans must stay index-backed too.
 */
const SIZES = [10_000, 100_000];

interface Sized {
  database: TestDatabase;
  db: Db;
  client: pg.Client;
}
const sized = new Map<number, Sized>();

/** The dashboard bench's sagas (test/support/dashboard-seed.ts): ~97% completed, 2% compensated, 0.5% aborted, failures among the newest. */
async function seed(client: pg.Client, total: number) {
  await client.query(sagaInsertSql(0, total, Date.now()));
  await client.query(`ANALYZE saga_instance`);
}

beforeAll(async () => {
  for (const size of SIZES) {
    const database = await createTestDatabase();
    const db = createDb(database.url, { max: 2 });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await seed(client, size);
    sized.set(size, { database, db, client });
  }
}, 180_000);
afterAll(async () => {
  for (const s of sized.values()) {
    await s.client.end();
    await s.db.$disconnect();
    await s.database.drop();
  }
});

async function metricsPlan(s: Sized, filter: Parameters<ReturnType<typeof createSagaQueries>["metrics"]>[0]) {
  const sagas = createSagaQueries({ db: s.db, registry: createSagaRegistry([]) });
  const statements = await captureStatements(() => sagas.metrics(filter));
  expect(statements.length).toBeGreaterThanOrEqual(7); // six capped counts and the durations
  return explainAll(s.client, statements, ["saga_instance"]);
}

const filters = [{}, { type: "file.upload" }, { since: new Date(Date.now() - 3_600_000) }];

describe.each(SIZES)("sagas.metrics plans at %i sagas", (size) => {
  it.each(filters)("%j, fresh rows (no VACUUM yet): no Seq Scan on saga_instance", async (filter) => {
    const plan = await metricsPlan(sized.get(size)!, filter);
    expect(plan.seqScansOnBig, plan.nodes.join(", ")).toEqual([]);
  });

  it("after VACUUM: still no Seq Scan on saga_instance, for every filter", async () => {
    const s = sized.get(size)!;
    await s.client.query(`VACUUM (ANALYZE) saga_instance`);
    for (const filter of filters) {
      const plan = await metricsPlan(s, filter);
      expect(plan.seqScansOnBig, `${JSON.stringify(filter)}: ${plan.nodes.join(", ")}`).toEqual([]);
    }
  });
});

describe("sagas.metrics since", () => {
  it("counts a saga whose id was taken before its created_at (the id bound has slack, created_at decides)", async () => {
    const s = sized.get(SIZES[0]!)!;
    const since = new Date(Date.now() + 3_600_000); // after every seeded saga
    // A UUIDv7 of a minute before `since`: "tttttttt-tttt-7000-8000-000000000001".
    const id = `${uuidv7Floor(new Date(since.getTime() - 60_000)).slice(0, 14)}7000-8000-000000000001`;
    await s.client.query(
      `INSERT INTO saga_instance (id, type, status, current_step, input, context, version, created_at, updated_at, finished_at)
       VALUES ($1::uuid, 'file.upload', 'completed', 1, '{}', '{"generation": 0}', 1, $2, $2, $2)`,
      [id, new Date(since.getTime() + 1_000)],
    );
    const metrics = await createSagaQueries({ db: s.db, registry: createSagaRegistry([]) }).metrics({ since });
    expect(metrics.byStatus.completed).toBe(1);
    expect(metrics.total).toBe(1);
  });
});
