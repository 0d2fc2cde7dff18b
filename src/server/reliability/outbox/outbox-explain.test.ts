import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { CLAIM_DUE_SQL } from "./relay-store";

/**
 * The hot paths must not scan the table. With 200k published rows (a table where a sequential scan
 * would be expensive) and a handful of due ones, check the plans PostgreSQL chooses.
 */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  await app.services.db.$executeRawUnsafe(`
    INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, published_at, consumed_at, created_at)
    SELECT gen_random_uuid(), 'file', md5(g::text), 1, 'file.tagged', '{}'::jsonb, 'published', now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour'
    FROM generate_series(1, 200000) g`);
  await app.services.db.$executeRawUnsafe(`
    INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, last_error, last_failed_at)
    SELECT gen_random_uuid(), 'file', md5((g + 1000000)::text), 1, 'file.tagged', '{}'::jsonb,
           (CASE WHEN g % 3 = 0 THEN 'dead' ELSE 'pending' END)::"OutboxStatus",
           CASE WHEN g % 3 = 0 THEN 'boom' END, CASE WHEN g % 3 = 0 THEN now() END
    FROM generate_series(1, 30) g`);
  await app.services.db.$executeRawUnsafe(`ANALYZE outbox_event`);
}, 120_000);
afterAll(() => app.close());

async function plan(sql: string): Promise<string> {
  const rows = await app.services.db.$queryRawUnsafe<Array<{ "QUERY PLAN": string }>>(`EXPLAIN ${sql}`);
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

// The relay's claim statement exactly as the relay runs it, with its parameters filled in.
const CLAIM = CLAIM_DUE_SQL.replace("$1::int", "500").replace("$2::text", "'relay'").replaceAll("$3::int", "30000");

describe("query plans at 200k rows", () => {
  it("the relay's claim reads the partial due index and probes ordering through the unconsumed index", async () => {
    const text = await plan(CLAIM);
    expect(text).toMatch(/Index Scan using outbox_event_due_idx on outbox_event e/);
    expect(text).toMatch(/outbox_event_unconsumed_idx/);
    expect(text).not.toMatch(/Seq Scan on outbox_event/);
    console.info(`claim plan:\n${text}`);
  });

  it("the dashboard's status list, error search and blocked-aggregates queries use indexes", async () => {
    const dead = await plan(`SELECT id FROM outbox_event WHERE status IN ('dead') ORDER BY id DESC LIMIT 51`);
    // The dead ones through (status, id), or through the failure-group partial index (dead rows only)
    // and a sort of its few rows: ANALYZE samples ~10 dead rows of 200k, and both plans were seen.
    expect(dead).toMatch(/outbox_event_(status_id|failure_group)_idx/);
    const failures = await plan(`SELECT date_trunc('minute', last_failed_at), count(*) FROM outbox_event WHERE last_failed_at IS NOT NULL AND last_failed_at >= now() - interval '15 minutes' GROUP BY 1`);
    expect(failures).toMatch(/outbox_event_failed_idx/);
    const published = await plan(`SELECT count(*) FROM outbox_event WHERE status = 'published' AND published_at >= now() - interval '15 minutes'`);
    expect(published).toMatch(/outbox_event_published_idx/);
    const heads = await plan(`SELECT DISTINCT ON (aggregate_type, aggregate_id) id FROM outbox_event WHERE consumed_at IS NULL AND status <> 'discarded' ORDER BY aggregate_type, aggregate_id, aggregate_seq`);
    expect(heads).toMatch(/outbox_event_unconsumed_idx/);
    const errorSearch = await plan(`SELECT id FROM outbox_event WHERE last_failed_at IS NOT NULL AND last_error ILIKE '%boo%' ORDER BY id DESC LIMIT 51`);
    // The rows that ever failed, through their index or the trigram index of their error text.
    expect(errorSearch).toMatch(/outbox_event_(failed|error_trgm)_idx/);
    const oldestPending = await plan(`SELECT created_at FROM outbox_event WHERE status = 'pending' ORDER BY status, id LIMIT 1`);
    // Either index answers it without a scan of the table; which one the planner picks depends on
    // ANALYZE's sample of how few rows are pending (both were seen).
    expect(oldestPending).toMatch(/Index (Only )?Scan using outbox_event_(status_id|due)_idx/);
    for (const p of [dead, failures, published, heads, errorSearch, oldestPending]) expect(p).not.toMatch(/Seq Scan on outbox_event/);
  });

  it("the reconciler's scan and the stalled count read only the in-flight index", async () => {
    const scan = await plan(`SELECT id, published_at FROM outbox_event WHERE status = 'published' AND consumed_at IS NULL
      AND published_at < now() - 60000 * interval '1 millisecond' AND (published_at, id) > (now() - interval '1 day', '00000000-0000-0000-0000-000000000000'::uuid)
      ORDER BY published_at, id LIMIT 500`);
    expect(scan).toMatch(/outbox_event_inflight_idx/);
    const count = await plan(`SELECT count(*) FROM outbox_event WHERE status = 'published' AND consumed_at IS NULL AND published_at < now() - 60000 * interval '1 millisecond'`);
    expect(count).toMatch(/outbox_event_inflight_idx/);
    for (const p of [scan, count]) expect(p).not.toMatch(/Seq Scan on outbox_event/);
  });
});
