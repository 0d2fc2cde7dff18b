import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Prisma } from "../../platform/db/client";
import { createTestApp, type TestApp } from "~test/support/app";
import { seedOutboxEvents, seedSagas } from "~test/support/bulk";
import { bulkConditions, type BulkAction, type BulkFilter } from "./filter";
import { sagaBulkConditions, type SagaBulkAction, type SagaBulkFilter } from "./saga-filter";

/**
 * Bulk actions, failure groups and the audit search must not scan the table. With 200k published
 * rows (where a sequential scan would be expensive) and a few hundred failures, check the plans
 * PostgreSQL chooses for every filter kind, as the code builds them.
 */
let app: TestApp;
const db = () => app.services.db;
beforeAll(async () => {
  app = await createTestApp();
  await seedOutboxEvents(db(), { count: 200_000, status: "published" });
  await seedOutboxEvents(db(), { count: 300, status: "dead", error: "consumer x: boom", fingerprint: "a".repeat(32), offset: 1 });
  await seedOutboxEvents(db(), { count: 100, status: "failed", error: "consumer y: disk full", fingerprint: "b".repeat(32), offset: 2 });
  await seedOutboxEvents(db(), { count: 20, status: "pending", offset: 3 });
  await db().$executeRawUnsafe(`ANALYZE outbox_event`);
  // Sagas: 100k completed (the history a scan would read) and a few hundred an operator can act on.
  await seedSagas(db(), { count: 100_000, status: "completed", error: null });
  await seedSagas(db(), { count: 200, status: "failed", fingerprint: "c".repeat(32), offset: 1 });
  await seedSagas(db(), { count: 100, status: "compensated", currentStep: 1, offset: 2 });
  await seedSagas(db(), { count: 50, status: "running", idleMinutes: 30, offset: 3 });
  await seedSagas(db(), { count: 20, status: "compensating", offset: 4 });
  await db().$executeRawUnsafe(`ANALYZE saga_instance`);
}, 180_000);
afterAll(() => app.close());

async function plan(sql: Prisma.Sql): Promise<string> {
  const rows = await db().$queryRawUnsafe<Array<{ "QUERY PLAN": string }>>(`EXPLAIN ${sql.text}`, ...sql.values);
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

const { Prisma: P } = await import("../../db/generated/client");
const UPPER = "ffffffff-ffff-7fff-bfff-ffffffffffff";
const CURSOR = "00000000-0000-7000-8000-000000000000";

const filters: Array<[BulkAction, BulkFilter]> = [
  ["outbox.retry", {}],
  ["outbox.discard", {}],
  ["outbox.retry", { status: ["dead"] }],
  ["outbox.retry", { type: "file.renamed" }],
  ["outbox.retry", { aggregateType: "file", aggregateId: "abc" }],
  ["outbox.retry", { from: new Date(Date.now() - 3_600_000), to: new Date() }],
  ["outbox.retry", { errorContains: "disk" }],
  ["outbox.retry", { fingerprint: "a".repeat(32) }],
  ["outbox.retry", { payload: { path: "ownerId", value: "owner-1" } }],
  ["outbox.discard", { payload: { path: "meta.source", value: 3 }, errorContains: "boom", status: ["pending", "dead"] }],
];

describe("bulk query plans at 200k rows", () => {
  it.each(filters)("%s %j: the batch and the dry-run count read an index of actionable rows, never the table", async (action, filter) => {
    const where = bulkConditions(action, filter);
    const batch = await plan(P.sql`SELECT id FROM outbox_event WHERE ${where} AND id > ${CURSOR}::uuid AND id < ${UPPER}::uuid ORDER BY id LIMIT 500`);
    const count = await plan(P.sql`SELECT count(*) FROM (SELECT 1 FROM outbox_event WHERE ${where} AND id < ${UPPER}::uuid LIMIT 100001) c`);
    for (const p of [batch, count]) {
      expect(p).not.toMatch(/Seq Scan on outbox_event/);
      expect(p).toMatch(/outbox_event_(actionable|failure_group|status_id|event_type_id)_idx|outbox_event_aggregate_type_aggregate_id_aggregate_seq_key/);
    }
    console.info(`${action} ${JSON.stringify(filter)}\n${batch}`);
  });

  it("failure groups read only the partial index of failures", async () => {
    const groups = await plan(P.sql`SELECT failure_fingerprint, count(*), min(last_failed_at), max(last_failed_at), array_agg(DISTINCT event_type), max(id::text)
      FROM outbox_event WHERE status IN ('failed', 'dead') GROUP BY failure_fingerprint ORDER BY count(*) DESC LIMIT 50`);
    expect(groups).not.toMatch(/Seq Scan on outbox_event/);
    expect(groups).toMatch(/outbox_event_(failure_group|actionable)_idx/);
    const members = await plan(P.sql`SELECT id FROM outbox_event WHERE failure_fingerprint = ${"a".repeat(32)} AND status IN ('failed', 'dead') ORDER BY id DESC LIMIT 500`);
    expect(members).not.toMatch(/Seq Scan on outbox_event/);
  });
});

const sagaFilters: Array<[SagaBulkAction, SagaBulkFilter]> = [
  ["saga.redrive", {}],
  ["saga.abort", {}],
  ["saga.resume", {}],
  ["saga.redrive", { status: ["compensated"] }],
  ["saga.redrive", { type: "file.upload" }],
  ["saga.redrive", { currentStep: 1 }],
  ["saga.redrive", { from: new Date(Date.now() - 3_600_000), to: new Date() }],
  ["saga.redrive", { errorContains: "storage" }],
  ["saga.redrive", { fingerprint: "c".repeat(32) }],
  ["saga.resume", { idleMinutes: 10 }],
  ["saga.abort", { type: "file.upload", currentStep: 0, errorContains: "x", idleMinutes: 5 }],
];

describe("bulk saga query plans at 100k completed sagas", () => {
  it.each(sagaFilters)("%s %j: the batch and the dry-run count read an index of actionable sagas, never the table", async (action, filter) => {
    const where = sagaBulkConditions(action, filter);
    const batch = await plan(P.sql`SELECT id FROM saga_instance WHERE ${where} AND id > ${CURSOR}::uuid AND id < ${UPPER}::uuid ORDER BY id LIMIT 500`);
    const count = await plan(P.sql`SELECT count(*) FROM (SELECT 1 FROM saga_instance WHERE ${where} AND id < ${UPPER}::uuid LIMIT 100001) c`);
    for (const p of [batch, count]) {
      expect(p).not.toMatch(/Seq Scan on saga_instance/);
      expect(p).toMatch(/saga_instance_(actionable|failure_group|error|status_updated_at|type_created_at)_idx/);
    }
    console.info(`${action} ${JSON.stringify(filter)}\n${batch}`);
  });
});
