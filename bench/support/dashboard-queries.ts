/**
 * Every read the operator dashboard makes, as calls of the SAME functions the admin routers call
 * (src/server/reliability/…): list pages with each filter kind, counts, failure groups, the
 * overview's stats, bulk dry-run counts, the audit search and the trace. Nothing here copies SQL.
 */
import { createHash } from "node:crypto";
import type { Db } from "../../src/server/platform/db/client";
import { blockedAggregates, getEvent, listEvents, outboxStats, type OutboxFilter } from "../../src/server/reliability/outbox/queries";
import { dryRunBulk } from "../../src/server/reliability/bulk/operations";
import type { BulkFilter } from "../../src/server/reliability/bulk/filter";
import { listFailureGroups } from "../../src/server/reliability/failures/groups";
import { createSagaQueries } from "../../src/server/reliability/saga/queries";
import { createSagaRegistry } from "../../src/server/reliability/saga/definition";
import { countRecordsByState, listIdempotencyRecords } from "../../src/server/reliability/idempotency/queries";
import { searchAudit } from "../../src/server/reliability/audit/search";
import { createTraceQuery } from "../../src/server/reliability/trace/trace-query";
import { createConsoleSearch } from "../../src/server/features/console-search/console-search";
import { ERROR_TEMPLATES, PROCEDURES, userIdOf } from "../../test/support/dashboard-seed";

export interface DashboardQuery {
  area: "outbox" | "bulk" | "failures" | "sagas" | "idempotency" | "audit" | "trace" | "search";
  name: string;
  run: () => Promise<unknown>;
}

/** Values the filters use, read from the newest rows (the same rows at every size: see dashboard-seed.ts). */
export interface Samples {
  anchor: Date;
  eventId: string;
  aggregateType: string;
  aggregateId: string;
  correlationId: string;
  sagaId: string;
  idempotencyKey: string;
  fileId: string;
  /** A word and number that start a file's name ("contract-4242"). */
  fileNamePart: string;
  userEmail: string;
}

export async function readSamples(db: Db, anchor: Date): Promise<Samples> {
  const [e] = await db.$queryRaw<Array<{ id: string; aggregate_type: string; aggregate_id: string; correlation_id: string }>>`
    SELECT id::text, aggregate_type, aggregate_id, correlation_id FROM outbox_event WHERE status = 'failed' ORDER BY id DESC LIMIT 1`;
  const [s] = await db.$queryRaw<Array<{ id: string }>>`SELECT id::text FROM saga_instance WHERE status = 'failed' ORDER BY id DESC LIMIT 1`;
  const [i] = await db.$queryRaw<Array<{ key: string }>>`SELECT key FROM idempotency_key ORDER BY id DESC OFFSET 100 LIMIT 1`;
  const [f] = await db.$queryRaw<Array<{ id: string; name: string }>>`SELECT id::text, name FROM file ORDER BY id DESC OFFSET 100 LIMIT 1`;
  const [u] = await db.$queryRaw<Array<{ email: string }>>`SELECT email FROM app_user WHERE id = ${userIdOf(5)}::uuid`;
  return {
    anchor,
    eventId: e!.id,
    aggregateType: e!.aggregate_type,
    aggregateId: e!.aggregate_id,
    correlationId: e!.correlation_id,
    // The 10M bench seeds only the outbox: its queries do not use these.
    sagaId: s?.id ?? "00000000-0000-7000-8000-000000000000",
    idempotencyKey: i?.key ?? "none",
    fileId: f?.id ?? "00000000-0000-7000-8000-000000000000",
    fileNamePart: f ? f.name.split("-").slice(0, 2).join("-") : "none",
    userEmail: u?.email ?? "none@example.com",
  };
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** Every dashboard query; `only` keeps the areas asked for (the 10M bench runs the outbox ones). */
export function dashboardQueries(db: Db, s: Samples, only?: Array<DashboardQuery["area"]>): DashboardQuery[] {
  const page = { limit: 50 };
  const search = createConsoleSearch(db);
  const hits = { limit: 20 };
  // A five-minute window inside the newest 10k rows (they span 14 minutes of events).
  const from = new Date(s.anchor.getTime() - 10 * 60_000);
  const to = new Date(s.anchor.getTime() - 5 * 60_000);
  const fingerprint = md5(ERROR_TEMPLATES[0]!);
  const list = (filter: OutboxFilter) => () => listEvents(db, filter, page);
  const dry = (filter: BulkFilter) => () => dryRunBulk(db, "outbox.retry", filter);
  const sagas = createSagaQueries({ db, registry: createSagaRegistry([]) });
  const user = userIdOf(7);
  const all: DashboardQuery[] = [
    { area: "outbox", name: "outbox.stats (overview counts, rates)", run: () => outboxStats(db, { windowMinutes: 15 }) },
    { area: "outbox", name: "outbox.blocked", run: () => blockedAggregates(db, { limit: 10 }) },
    { area: "outbox", name: "outbox.list (no filter)", run: list({}) },
    { area: "outbox", name: "outbox.list status=failed", run: list({ status: ["failed"] }) },
    { area: "outbox", name: "outbox.list status=published", run: list({ status: ["published"] }) },
    { area: "outbox", name: "outbox.list status=stalled", run: list({ status: ["stalled"] }) },
    { area: "outbox", name: "outbox.list type", run: list({ type: "order.shipped" }) },
    { area: "outbox", name: "outbox.list aggregate", run: list({ aggregateType: s.aggregateType, aggregateId: s.aggregateId }) },
    { area: "outbox", name: "outbox.list time range", run: list({ from, to }) },
    { area: "outbox", name: "outbox.list error text", run: list({ errorContains: "ECONNREFUSED" }) },
    { area: "outbox", name: "outbox.list failure group", run: list({ fingerprint }) },
    { area: "outbox", name: "outbox.get (event page)", run: () => getEvent(db, s.eventId) },
    { area: "bulk", name: "bulk.dryRun (no filter)", run: dry({}) },
    { area: "bulk", name: "bulk.dryRun type", run: dry({ type: "file.created" }) },
    { area: "bulk", name: "bulk.dryRun aggregate", run: dry({ aggregateType: s.aggregateType, aggregateId: s.aggregateId }) },
    { area: "bulk", name: "bulk.dryRun time range", run: dry({ from, to }) },
    { area: "bulk", name: "bulk.dryRun error text", run: dry({ errorContains: "deadlock" }) },
    { area: "bulk", name: "bulk.dryRun payload path=value", run: dry({ payload: { path: "meta.source", value: "import" } }) },
    { area: "bulk", name: "bulk.dryRun failure group", run: dry({ fingerprint }) },
    { area: "failures", name: "failures.groups", run: () => listFailureGroups(db, { limit: 50 }) },
    { area: "sagas", name: "sagas.metrics (overview)", run: () => sagas.metrics({}) },
    { area: "sagas", name: "sagas.list (no filter)", run: () => sagas.list(page) },
    { area: "sagas", name: "sagas.list status=failed", run: () => sagas.list({ ...page, status: ["failed"] }) },
    { area: "sagas", name: "sagas.list type", run: () => sagas.list({ ...page, type: "file.purge" }) },
    { area: "sagas", name: "sagas.list error text", run: () => sagas.list({ ...page, error: "deadlock" }) },
    { area: "sagas", name: "sagas.list time range", run: () => sagas.list({ ...page, createdAfter: from, createdBefore: to }) },
    { area: "sagas", name: "sagas.timeline", run: () => sagas.timeline(s.sagaId) },
    { area: "idempotency", name: "idempotency.stats (record counts)", run: () => countRecordsByState(db) },
    { area: "idempotency", name: "idempotency.records (no filter)", run: () => listIdempotencyRecords(db, { limit: 25 }) },
    { area: "idempotency", name: "idempotency.records key", run: () => listIdempotencyRecords(db, { limit: 25, key: s.idempotencyKey }) },
    { area: "idempotency", name: "idempotency.records user", run: () => listIdempotencyRecords(db, { limit: 25, userId: user }) },
    { area: "idempotency", name: "idempotency.records procedure", run: () => listIdempotencyRecords(db, { limit: 25, procedure: PROCEDURES[3] }) },
    { area: "idempotency", name: "idempotency.records user+procedure", run: () => listIdempotencyRecords(db, { limit: 25, userId: user, procedure: PROCEDURES[3] }) },
    { area: "idempotency", name: "idempotency.records state=in_progress", run: () => listIdempotencyRecords(db, { limit: 25, state: "in_progress" }) },
    { area: "audit", name: "audit.search (no filter)", run: () => searchAudit(db, { limit: 50 }) },
    { area: "audit", name: "audit.search actor", run: () => searchAudit(db, { limit: 50, actor: userIdOf(3) }) },
    { area: "audit", name: "audit.search action", run: () => searchAudit(db, { limit: 50, action: "saga.abort" }) },
    { area: "audit", name: "audit.search text", run: () => searchAudit(db, { limit: 50, text: "OPS-4242" }) },
    { area: "audit", name: "audit.search time range", run: () => searchAudit(db, { limit: 50, from, to }) },
    { area: "trace", name: "trace.get correlation", run: () => createTraceQuery(db).get({ kind: "correlation", id: s.correlationId }) },
    { area: "search", name: "search.find event id", run: () => search.find(s.eventId, hits) },
    { area: "search", name: "search.find saga id", run: () => search.find(s.sagaId, hits) },
    { area: "search", name: "search.find file id", run: () => search.find(s.fileId, hits) },
    { area: "search", name: "search.find unknown uuid", run: () => search.find("00000000-0000-7000-8000-00000000beef", hits) },
    { area: "search", name: "search.find aggregate id", run: () => search.find(s.aggregateId, hits) },
    { area: "search", name: "search.find idempotency key", run: () => search.find(s.idempotencyKey, hits) },
    { area: "search", name: "search.find correlation id", run: () => search.find(s.correlationId, hits) },
    { area: "search", name: "search.find file name part", run: () => search.find(s.fileNamePart, hits) },
    { area: "search", name: "search.find common word", run: () => search.find("contract", hits) },
    { area: "search", name: "search.find e-mail", run: () => search.find(s.userEmail, hits) },
  ];
  return only ? all.filter((q) => only.includes(q.area)) : all;
}
