/**
 * Seeding large outbox, saga, idempotency and audit tables fast: one INSERT … SELECT generate_series
 * per chunk, in SQL, with the distributions a running system has.
 *
 * The model (what makes "cost that does not grow with the table" a fair question):
 *   - rows arrive at a constant rate (outbox and idempotency: one every 86.4 ms, i.e. 1M a day;
 *     sagas and audit rows ten times slower), so a bigger table is a LONGER history, not a busier
 *     minute: a "last 15 minutes" window holds the same rows at 10k and at 1M;
 *   - the backlog an operator acts on is bounded and recent (pending, publishing, stalled, failed,
 *     dead; running and failed sagas; in-progress records): it does not grow with the history;
 *   - what history accumulates does grow: published events (1 % of them had a transient failure
 *     and keep its error text), compensated and aborted sagas, completed records, audit rows.
 * Row k is the k-th newest (k = 0 is the newest), so seeding [0, 10k) and later [10k, 1M) gives
 * the same newest 10k rows at both sizes.
 */
import type pg from "pg";

/** Milliseconds between two outbox events / idempotency records (1M a day). */
export const EVENT_SPACING_MS = 86.4;
/** Sagas and audit rows arrive ten times slower than events. */
export const SAGA_SPACING_MS = 864;

/** A UUIDv7 (time-ordered) for a timestamp expression and a seed expression, in SQL. */
const uuidv7 = (ts: string, seed: string) => `(
  (lpad(to_hex((extract(epoch FROM ${ts}) * 1000)::bigint), 12, '0') || '7' || substr(md5(${seed}), 1, 3) || '8' || substr(md5(${seed}), 4, 15))::uuid)`;

export const EVENT_TYPES = ["file.created", "file.renamed", "file.tagged", "file.deleted", "user.created", "user.updated", "order.placed", "order.shipped"];
export const ERROR_TEMPLATES = [
  "consumer search-index: connect ECONNREFUSED 10.0.3.17:9200",
  "consumer thumbnails: image decode failed: unexpected end of stream",
  "consumer webhook: HTTP 503 from https://hooks.example.com/metastore",
  "consumer billing: deadlock detected while updating invoice",
  "consumer mailer: SMTP 451 temporary failure, try again later",
  "publish: Redis connection lost (ETIMEDOUT)",
];
export const SAGA_TYPES = ["file.import", "file.share", "order.checkout", "user.onboarding", "file.purge"];
export const PROCEDURES = ["files.create", "files.rename", "files.delete", "files.tag", "orders.place", "users.update"];

/** The user id (a UUID) of idempotency user number n. */
export const userIdOf = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const userIdSql = (n: string) => `('00000000-0000-4000-8000-' || lpad(to_hex(${n}), 12, '0'))`;

/** A SQL array literal of strings (the seed's fixed vocabularies). */
const sqlArray = (values: readonly string[]) => `(ARRAY[${values.map((v) => `'${v}'`).join(",")}])`;

/**
 * The rows k in [from, to), oldest first, each with its time `ts` (the newest at `anchorMs`, one
 * every `spacingMs`) and a stable hash `h` of `seed` (an SQL expression of k): every table's INSERT
 * selects from this.
 */
const seriesSql = (from: number, to: number, anchorMs: number, spacingMs: number, seed: string) =>
  `(SELECT k, ts, abs(hashtext(${seed})) AS h FROM (
      SELECT k, to_timestamp(${anchorMs} / 1000.0) - (k * ${spacingMs}) * interval '1 millisecond' AS ts
      FROM generate_series(${to - 1}, ${from}, -1) AS k) t) base`;

/** The recent backlog (rows k < BACKLOG_WINDOW): pending, publishing, stalled, failed, dead, discarded. */
export const BACKLOG_WINDOW = 10_000;

/** Outbox events k in [from, to): the newest at `anchorMs`. */
export function outboxInsertSql(from: number, to: number, anchorMs: number): string {
  const types = sqlArray(EVENT_TYPES);
  const errors = sqlArray(ERROR_TEMPLATES);
  // status by k: the newest 200 pending, 10 publishing, 10 stalled (published, not consumed, old
  // enough); within the newest 10k one in 20 failed, dead or discarded; older rows published and
  // consumed, one in 100 of them after a transient failure (its error kept).
  return `
    INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, headers, status, attempts,
      max_attempts, next_attempt_at, lease_until, claimed_by, last_error, last_error_stack, last_failed_at, failure_fingerprint,
      created_at, published_at, consumed_at, correlation_id)
    SELECT ${uuidv7("ts", "k::text")}, split_part(et, '.', 1), aggregate_id, 100000000 - k, et,
      jsonb_build_object('id', aggregate_id, 'ownerId', 'user-' || (h % 5000), 'name', 'doc-' || k || '.txt', 'size', h % 1000000,
        'meta', jsonb_build_object('source', (ARRAY['upload','import','sync','api'])[1 + h % 4], 'region', (ARRAY['eu','us','ap'])[1 + h % 3])),
      jsonb_build_object('correlationId', 'req-' || substr(md5(k::text), 1, 16)),
      st::"OutboxStatus", CASE WHEN st IN ('failed','dead') OR transient THEN 1 + h % 5 WHEN st = 'pending' THEN 0 ELSE 1 END, 5,
      CASE WHEN st = 'publishing' THEN now() + interval '30 seconds' WHEN st = 'failed' THEN now() + interval '20 seconds' ELSE ts END,
      CASE WHEN st = 'publishing' THEN now() + interval '30 seconds' END,
      CASE WHEN st = 'publishing' THEN 'relay-bench' END,
      CASE WHEN err IS NOT NULL THEN err || ' (event ' || k || ')' END,
      CASE WHEN err IS NOT NULL THEN 'Error: ' || err || E'\\n    at consume (src/worker/consumers.ts:42:11)\\n    at async run (src/worker/index.ts:88:5)' END,
      CASE WHEN err IS NOT NULL THEN ts + interval '1 second' END,
      CASE WHEN err IS NOT NULL THEN md5(err) END,
      ts,
      CASE WHEN st = 'published' THEN ts + interval '50 milliseconds' END,
      CASE WHEN st = 'published' AND NOT stalled THEN ts + interval '200 milliseconds' END,
      'req-' || substr(md5(k::text), 1, 16)
    FROM (
      SELECT k, ts, h, et, 'f-' || substr(md5((k / 8)::text), 1, 12) AS aggregate_id, st, stalled, transient,
        CASE WHEN st IN ('failed','dead','discarded') OR transient THEN ${errors}[1 + h % ${ERROR_TEMPLATES.length}] END AS err
      FROM (
        SELECT k, ts, h, ${types}[1 + (h % 100) * (h % 100) / 1250] AS et,
          CASE WHEN k < 200 THEN 'pending' WHEN k < 210 THEN 'publishing'
               WHEN k < ${BACKLOG_WINDOW} AND k % 20 = 1 THEN 'failed'
               WHEN k < ${BACKLOG_WINDOW} AND k % 20 = 2 THEN 'dead'
               WHEN k < ${BACKLOG_WINDOW} AND k % 20 = 3 THEN 'discarded'
               ELSE 'published' END AS st,
          (k BETWEEN 2000 AND 2009) AS stalled,
          (k >= ${BACKLOG_WINDOW} AND k % 100 = 50) AS transient
        FROM ${seriesSql(from, to, anchorMs, EVENT_SPACING_MS, "k::text")}
      ) typed
    ) rows`;
}

/** Sagas k in [from, to). */
export function sagaInsertSql(from: number, to: number, anchorMs: number): string {
  const types = sqlArray(SAGA_TYPES);
  const errors = sqlArray(ERROR_TEMPLATES);
  // The newest 50 running and 10 compensating; within the newest 10k one in 40 failed (compensation
  // failed: an operator must act); throughout history 2 % compensated and 0.5 % aborted; the rest completed.
  return `
    INSERT INTO saga_instance (id, type, status, current_step, input, context, last_error, failure_fingerprint, correlation_id,
      version, created_at, updated_at, finished_at)
    SELECT ${uuidv7("ts", "'s' || k")}, ${types}[1 + h % ${SAGA_TYPES.length}], st::"SagaStatus", CASE WHEN st = 'completed' THEN 4 ELSE h % 4 END,
      jsonb_build_object('fileId', 'f-' || substr(md5(k::text), 1, 12), 'ownerId', 'user-' || (h % 5000)),
      jsonb_build_object('generation', 0),
      CASE WHEN err IS NOT NULL THEN err || ' (saga ' || k || ')' END, CASE WHEN err IS NOT NULL THEN md5(err) END,
      'req-' || substr(md5('s' || k), 1, 16), 3, ts,
      ts + (h % 5000) * interval '1 millisecond' + interval '100 milliseconds',
      CASE WHEN st IN ('completed','compensated','aborted','failed') THEN ts + (h % 5000) * interval '1 millisecond' + interval '100 milliseconds' END
    FROM (
      SELECT k, ts, h, st, CASE WHEN st IN ('failed','compensated','aborted') THEN ${errors}[1 + h % ${ERROR_TEMPLATES.length}] END AS err
      FROM (
        SELECT k, ts, h,
          CASE WHEN k < 50 THEN 'running' WHEN k < 60 THEN 'compensating'
               WHEN k < ${BACKLOG_WINDOW} AND k % 40 = 1 THEN 'failed'
               WHEN k % 50 = 2 THEN 'compensated' WHEN k % 200 = 3 THEN 'aborted'
               ELSE 'completed' END AS st
        FROM ${seriesSql(from, to, anchorMs, SAGA_SPACING_MS, "'s' || k")}
      ) s
    ) rows`;
}

/** Idempotency records k in [from, to): 2,000 users × 6 procedures; records live 25 hours. */
export function idempotencyInsertSql(from: number, to: number, anchorMs: number): string {
  const procs = sqlArray(PROCEDURES);
  return `
    INSERT INTO idempotency_key (id, scope, key, fingerprint, state, result, response_status, lease_until, claim_token,
      created_at, completed_at, expires_at, correlation_id)
    SELECT ${uuidv7("ts", "'i' || k")}, ${userIdSql("h % 2000")} || ':' || ${procs}[1 + (h / 2000) % ${PROCEDURES.length}],
      'key-' || md5('i' || k), md5('fp' || k), CASE WHEN k < 20 THEN 'in_progress' ELSE 'completed' END::"IdempotencyState",
      CASE WHEN k >= 20 THEN jsonb_build_object('ok', true, 'data', jsonb_build_object('id', 'f-' || substr(md5(k::text), 1, 12), 'version', h % 9)) END,
      CASE WHEN k >= 20 THEN 200 END,
      CASE WHEN k < 20 THEN now() + CASE WHEN k < 5 THEN interval '-1 minute' ELSE interval '30 seconds' END END,
      CASE WHEN k < 20 THEN gen_random_uuid() END,
      ts, CASE WHEN k >= 20 THEN ts + interval '40 milliseconds' END, ts + interval '25 hours',
      'req-' || substr(md5('i' || k), 1, 16)
    FROM ${seriesSql(from, to, anchorMs, EVENT_SPACING_MS, "'i' || k")}`;
}

export const AUDIT_ACTIONS = ["outbox.retry", "outbox.discard", "saga.redrive", "saga.abort", "failures.retryGroup", "bulk.start", "idempotency.deleteExpired"];

/** Operator audit rows k in [from, to): 20 operators. */
export function auditInsertSql(from: number, to: number, anchorMs: number): string {
  const actions = sqlArray(AUDIT_ACTIONS);
  return `
    INSERT INTO operator_audit (id, at, actor_id, actor_email, action, target_kind, target_ids, affected_count, reason, correlation_id, outcome)
    SELECT ${uuidv7("ts", "'a' || k")}, ts, ${userIdSql("h % 20")}::uuid, 'operator' || (h % 20) || '@example.com',
      ${actions}[1 + h % ${AUDIT_ACTIONS.length}], 'outbox_event', jsonb_build_array(${uuidv7("ts", "'t' || k")}::text), 1,
      'ticket OPS-' || (h % 9000) || ': consumer outage', 'req-' || substr(md5('a' || k), 1, 16), 'succeeded'
    FROM ${seriesSql(from, to, anchorMs, SAGA_SPACING_MS, "'a' || k")}`;
}

/**
 * Run an insert in chunks of `chunk` rows (each its own statement: progress, and no single huge
 * transaction), with the table's secondary indexes dropped first and rebuilt after when `rebuild`
 * says so (a sorted build is several times faster than maintaining a dozen indexes row by row).
 */
export async function seedTable(
  client: pg.Client,
  table: string,
  sql: (from: number, to: number) => string,
  range: { from: number; to: number },
  opts: { chunk?: number; rebuildIndexes?: boolean; log?: (line: string) => void } = {},
): Promise<number> {
  const started = performance.now();
  const chunk = opts.chunk ?? 250_000;
  await client.query(`SET maintenance_work_mem = '512MB'`);
  await client.query(`SET synchronous_commit = off`);
  let indexes: Array<{ name: string; def: string }> = [];
  if (opts.rebuildIndexes) {
    // Non-constraint indexes only (the primary key and unique constraints stay: foreign keys need them).
    const { rows } = await client.query<{ name: string; def: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
       WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
      [table],
    );
    indexes = rows;
    for (const ix of indexes) await client.query(`DROP INDEX ${ix.name}`);
  }
  for (let from = range.from; from < range.to; from += chunk) {
    const to = Math.min(range.to, from + chunk);
    await client.query(sql(from, to));
    opts.log?.(`  ${table}: ${to.toLocaleString("en")} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  for (const ix of indexes) await client.query(ix.def);
  // The primary key and unique constraints were kept up row by row, oldest rows added last: rebuilt
  // they are as dense as the ones of a table filled in time order.
  if (opts.rebuildIndexes) {
    const { rows } = await client.query<{ name: string }>(`SELECT conindid::regclass::text AS name FROM pg_constraint WHERE conrelid = $1::regclass AND conindid <> 0`, [table]);
    for (const r of rows) await client.query(`REINDEX INDEX ${r.name}`);
  }
  await client.query(`VACUUM (ANALYZE) ${table}`);
  return (performance.now() - started) / 1000;
}

/** Users k in [from, to): the console search's e-mails (ids as userIdOf(k); the 20 operators of the audit rows are k < 20). */
export function userInsertSql(from: number, to: number): string {
  return `
    INSERT INTO app_user (id, email, name, password_hash, role, created_at, updated_at)
    SELECT ${userIdSql("k")}::uuid, (ARRAY['ana','bo','chen','dara','eli','fay','gus','hana'])[1 + k % 8] || '.' || k || '@example.com',
      'User ' || k, 'bench-not-a-hash', CASE WHEN k < 20 THEN 'operator' ELSE 'user' END::"Role", now(), now()
    FROM generate_series(${to - 1}, ${from}, -1) AS k`;
}

/** Files k in [from, to), one every 86.4 ms, owned by the first 10k users (present at both sizes). */
export const FILE_WORDS = ["invoice", "report", "photo", "contract", "backup", "notes", "slides", "scan"];
export function fileInsertSql(from: number, to: number, anchorMs: number): string {
  const ts = `(to_timestamp(${anchorMs} / 1000.0) - (k * ${EVENT_SPACING_MS}) * interval '1 millisecond')`;
  const words = `(ARRAY[${FILE_WORDS.map((w) => `'${w}'`).join(",")}])`;
  return `
    INSERT INTO file (id, owner_id, name, mime_type, size_bytes, storage_key, status, created_at, updated_at)
    SELECT ${uuidv7("ts", "'f' || k")}, ${userIdSql(`(h % ${BACKLOG_WINDOW})`)}::uuid,
      ${words}[1 + h % ${FILE_WORDS.length}] || '-' || (h % 100000) || '-' || k || '.pdf', 'application/pdf', h % 1000000,
      'bench/' || k, CASE WHEN k % 50 = 7 THEN 'deleted' ELSE 'active' END::"FileStatus", ts, ts
    FROM (SELECT k, ${ts} AS ts, abs(hashtext('f' || k)) AS h FROM generate_series(${to - 1}, ${from}, -1) AS k) base`;
}

/** One outbox_aggregate row per aggregate of the seeded events (what appending them would have left). */
export function aggregateInsertSql(): string {
  return `
    INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq)
    SELECT aggregate_type, aggregate_id, max(aggregate_seq) FROM outbox_event GROUP BY aggregate_type, aggregate_id`;
}
