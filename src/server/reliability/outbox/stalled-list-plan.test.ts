import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqlTestDatabase, type SqlTestDatabase } from "~test/support/sql-database";
import type { Db } from "../../platform/db/client";
import { listEvents } from "./queries";

/**
 * The stalled list must walk the few published-but-unconsumed rows, not every published one.
 * Prisma sends the status as `CAST($n AS "OutboxStatus")`, which the planner cannot match against a
 * partial index's `status = 'published'`: the statement below has that shape (a parameterised
 * cast), and outbox_event_unconsumed_id_idx carries no status in its predicate for that reason.
 */
let t: SqlTestDatabase;
let db: Db;
let client: pg.Client;
beforeAll(async () => {
  t = await openSqlTestDatabase();
  ({ db, client } = t);
  await client.query(`
    INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, published_at, consumed_at, created_at)
    SELECT gen_random_uuid(), 'file', 'f' || g, 1, 'file.tagged', '{}'::jsonb, 'published',
           now() - interval '1 hour', CASE WHEN g > 5 THEN now() - interval '1 hour' END, now() - interval '1 hour'
    FROM generate_series(1, 100000) g`);
  await client.query(`ANALYZE outbox_event`);
}, 120_000);
afterAll(() => t?.close());

describe("the stalled list at 100k published rows", () => {
  it("reads outbox_event_unconsumed_id_idx, not the published rows", async () => {
    const { rows } = await client.query<{ "QUERY PLAN": string }>({
      text: `EXPLAIN SELECT id FROM outbox_event
             WHERE status = CAST($1::text AS "OutboxStatus") AND consumed_at IS NULL AND published_at < $2
             ORDER BY id DESC LIMIT 51`,
      values: ["published", new Date(Date.now() - 60_000)],
    });
    const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(plan).toMatch(/outbox_event_unconsumed_id_idx/);
    expect(plan).not.toMatch(/Seq Scan on outbox_event/);
  });

  it("lists exactly the stalled events", async () => {
    const page = await listEvents(db, { status: ["stalled"] }, { limit: 50 });
    expect(page.items).toHaveLength(5);
    expect(page.items.every((e) => e.status === "stalled")).toBe(true);
  });
});
