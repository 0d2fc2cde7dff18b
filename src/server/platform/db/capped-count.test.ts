import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "~test/support/database";
import { Prisma } from "../../db/generated/client";
import { cappedCount } from "./capped-count";
import { createDb, type Db } from "./client";

/**
 * Counts exact up to the cap, the planner's estimate past it (flagged), on a real table: 5,000
 * published events and 20 pending ones, analysed so the estimate has statistics to come from.
 */
let database: TestDatabase;
let db: Db;
beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { max: 2 });
  await db.$executeRawUnsafe(`
    INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, published_at, consumed_at)
    SELECT gen_random_uuid(), 'file', 'f' || g, 1, 'file.tagged', '{}'::jsonb,
           (CASE WHEN g <= 20 THEN 'pending' ELSE 'published' END)::"OutboxStatus",
           CASE WHEN g > 20 THEN now() END, CASE WHEN g > 20 THEN now() END
    FROM generate_series(1, 5020) g`);
  await db.$executeRawUnsafe(`ANALYZE outbox_event`);
}, 60_000);
afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

const published = Prisma.sql`outbox_event WHERE status = 'published'`;

describe("cappedCount", () => {
  it("counts exactly while the rows fit under the cap", async () => {
    expect(await cappedCount(db, published, Prisma.sql`published_at`, 10_000)).toEqual({ count: 5000, approximate: false });
    expect(await cappedCount(db, Prisma.sql`outbox_event WHERE status = 'pending'`, Prisma.sql`status, id`, 20)).toEqual({ count: 20, approximate: false });
  });

  it("past the cap answers the planner's estimate, flagged approximate and never below what it counted", async () => {
    const counted = await cappedCount(db, published, Prisma.sql`published_at`, 1_000);
    expect(counted.approximate).toBe(true);
    // ANALYZE read every row of so small a table: the estimate is the count, give or take rounding.
    expect(counted.count).toBeGreaterThan(1_000);
    expect(Math.abs(counted.count - 5000)).toBeLessThan(250);
  });

  it("walks the index it is given: the plan of the capped count has no sequential scan", async () => {
    const plan = await db.$queryRawUnsafe<Array<{ "QUERY PLAN": string }>>(
      `EXPLAIN SELECT count(*) FROM (SELECT 1 FROM outbox_event WHERE status = 'published' ORDER BY published_at LIMIT 1001) capped`,
    );
    const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/outbox_event_published_idx/);
    expect(text).not.toMatch(/Seq Scan/);
  });
});
