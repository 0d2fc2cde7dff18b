import type { Db } from "../../platform/db/client";
import { containsPattern, startsWithPattern, upperBoundOf } from "./classify";
import { hrefs, type SearchHit } from "./hits";

/**
 * One lookup per place an id or a name can live, each a single statement served by an index (the
 * plans are checked at 1M rows by `npm run bench:dashboard`): primary keys, the indexed id columns,
 * and the trigram indexes on file names and e-mails (migration `console_search_indexes`).
 */

const short = (id: string) => `${id.slice(0, 8)}…`;

export async function eventById(db: Db, id: string): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<Array<{ id: string; event_type: string; status: string; aggregate_type: string; aggregate_id: string }>>`
    SELECT id::text, event_type, status::text, aggregate_type, aggregate_id FROM outbox_event WHERE id = ${id}::uuid`;
  return rows.map((r) => ({ kind: "event", id: r.id, label: `Event ${r.event_type} · ${r.status} · ${r.aggregate_type} ${short(r.aggregate_id)}`, href: hrefs.event(r.id) }));
}

/** Aggregates with this id, of any type (outbox_aggregate holds one row per aggregate that ever emitted). */
export async function aggregatesById(db: Db, id: string, limit: number): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<Array<{ aggregate_type: string; aggregate_id: string; last_seq: number }>>`
    SELECT aggregate_type, aggregate_id, last_seq FROM outbox_aggregate WHERE aggregate_id = ${id} LIMIT ${limit}`;
  return rows.map((r) => ({
    kind: "aggregate",
    id: r.aggregate_id,
    label: `Outbox events of ${r.aggregate_type} ${r.aggregate_id} (${r.last_seq} so far)`,
    href: hrefs.aggregate(r.aggregate_type, r.aggregate_id),
  }));
}

export async function sagaById(db: Db, id: string): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<Array<{ id: string; type: string; status: string; current_step: number }>>`
    SELECT id::text, type, status::text, current_step FROM saga_instance WHERE id = ${id}::uuid`;
  return rows.map((r) => ({ kind: "saga", id: r.id, label: `Saga ${r.type} · ${r.status} at step ${r.current_step}`, href: hrefs.saga(r.id) }));
}

type FileRow = { id: string; name: string; status: string; email: string };
const fileHit = (r: FileRow): SearchHit => ({ kind: "file", id: r.id, label: `File “${r.name}” · ${r.status} · owner ${r.email}`, href: hrefs.file(r.id) });

export async function fileById(db: Db, id: string): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<FileRow[]>`
    SELECT f.id::text, f.name, f.status::text, u.email FROM file f JOIN app_user u ON u.id = f.owner_id WHERE f.id = ${id}::uuid`;
  return rows.map(fileHit);
}

/**
 * Files by name: those whose name starts with the text first (a btree range scan that stops at the
 * LIMIT, so a common word costs what a rare one does), then, when they do not fill the page and
 * the text is long enough, those whose name contains it anywhere, in any case (trigram index; no
 * ORDER BY there: sorting every match would read them all). The exact match is put first (rankByName).
 */
export async function filesByName(db: Db, text: string, limit: number, opts: { substring: boolean }): Promise<SearchHit[]> {
  const prefixed = await db.$queryRaw<FileRow[]>`
    SELECT f.id::text, f.name, f.status::text, u.email
      FROM file f JOIN app_user u ON u.id = f.owner_id
     WHERE f.name >= ${text} AND f.name < ${upperBoundOf(text)} AND f.name LIKE ${startsWithPattern(text)}
     -- In index order, so the range scan stops at the LIMIT; without it the planner may read the
     -- table for a common prefix, expecting to meet matches early.
     ORDER BY f.name
     LIMIT ${limit}`;
  let rows = prefixed;
  if (opts.substring && prefixed.length < limit) {
    const contained = await db.$queryRaw<FileRow[]>`
      SELECT f.id::text, f.name, f.status::text, u.email
        FROM file f JOIN app_user u ON u.id = f.owner_id
       WHERE f.name ILIKE ${containsPattern(text)}
       LIMIT ${limit}`;
    rows = unionById(prefixed, contained);
  }
  return rankByName(rows, text, (r) => r.name).slice(0, limit).map(fileHit);
}

type IdempotencyRow = { id: string; key: string; scope: string; state: string };
const idempotencyHit = (r: IdempotencyRow): SearchHit => ({
  kind: "idempotency",
  id: r.id,
  label: `Idempotency key ${r.key} · ${r.scope.split(":").slice(1).join(":")} · ${r.state}`,
  href: hrefs.idempotency(r.key),
});

export async function idempotencyById(db: Db, id: string): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<IdempotencyRow[]>`SELECT id::text, key, scope, state::text FROM idempotency_key WHERE id = ${id}::uuid`;
  return rows.map(idempotencyHit);
}

/** Records with this key (one per caller and procedure that used it). */
export async function idempotencyByKey(db: Db, key: string, limit: number): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<IdempotencyRow[]>`SELECT id::text, key, scope, state::text FROM idempotency_key WHERE key = ${key} LIMIT ${limit}`;
  return rows.map(idempotencyHit);
}

/**
 * A correlation id (X-Request-Id) as stored on events, sagas, idempotency records and audit rows:
 * one hit for its trace when any of them has it, one for the audit log when audit rows do. Each
 * EXISTS is one probe of that table's correlation index.
 */
export async function byCorrelationId(db: Db, id: string): Promise<SearchHit[]> {
  const [row] = await db.$queryRaw<Array<{ traced: boolean; audited: boolean }>>`
    SELECT (EXISTS (SELECT 1 FROM outbox_event WHERE correlation_id = ${id})
         OR EXISTS (SELECT 1 FROM saga_instance WHERE correlation_id = ${id})
         OR EXISTS (SELECT 1 FROM idempotency_key WHERE correlation_id = ${id})) AS traced,
           EXISTS (SELECT 1 FROM operator_audit WHERE correlation_id = ${id}) AS audited`;
  const hits: SearchHit[] = [];
  if (row?.traced) hits.push({ kind: "correlation", id, label: `Request ${id}: its trace (events, sagas, idempotency record)`, href: hrefs.correlation(id) });
  if (row?.audited) hits.push({ kind: "audit", id, label: `Operator actions of request ${id}`, href: hrefs.auditByText(id) });
  return hits;
}

/** Audit rows that name this id among their targets (GIN index on target_ids). */
export async function auditByTargetId(db: Db, id: string): Promise<SearchHit[]> {
  const [row] = await db.$queryRaw<Array<{ found: boolean }>>`
    SELECT EXISTS (SELECT 1 FROM operator_audit WHERE target_ids @> jsonb_build_array(${id}::text)) AS found`;
  return row?.found ? [{ kind: "audit", id, label: `Operator actions on ${id}`, href: hrefs.auditByTarget(id) }] : [];
}

type UserRow = { id: string; email: string; role: string };
const userHit = (r: UserRow): SearchHit => ({ kind: "user", id: r.id, label: `User ${r.email} · ${r.role}`, href: hrefs.user(r.email) });

export async function userById(db: Db, id: string): Promise<SearchHit[]> {
  const rows = await db.$queryRaw<UserRow[]>`SELECT id::text, email, role::text FROM app_user WHERE id = ${id}::uuid`;
  return rows.map(userHit);
}

/** Users by e-mail (stored lower-case): its start first, then, as for files, any part of it. */
export async function usersByEmail(db: Db, text: string, limit: number, opts: { substring: boolean }): Promise<SearchHit[]> {
  const lower = text.toLowerCase();
  const prefixed = await db.$queryRaw<UserRow[]>`
    SELECT id::text, email, role::text FROM app_user
     WHERE email >= ${lower} AND email < ${upperBoundOf(lower)} AND email LIKE ${startsWithPattern(lower)}
     ORDER BY email LIMIT ${limit}`;
  let rows = prefixed;
  if (opts.substring && prefixed.length < limit) {
    const contained = await db.$queryRaw<UserRow[]>`
      SELECT id::text, email, role::text FROM app_user WHERE email ILIKE ${containsPattern(lower)} LIMIT ${limit}`;
    rows = unionById(prefixed, contained);
  }
  return rankByName(rows, text, (r) => r.email).slice(0, limit).map(userHit);
}

/** `a`, then the rows of `b` that are not in it. */
function unionById<T extends { id: string }>(a: T[], b: T[]): T[] {
  const seen = new Set(a.map((r) => r.id));
  return [...a, ...b.filter((r) => !seen.has(r.id))];
}

/** Exact matches first, then prefix matches, then the rest, each group in the order found. */
function rankByName<T>(rows: T[], text: string, nameOf: (row: T) => string): T[] {
  const t = text.toLowerCase();
  const rank = (r: T) => {
    const name = nameOf(r).toLowerCase();
    return name === t ? 0 : name.startsWith(t) ? 1 : 2;
  };
  return rows.map((r, i) => ({ r, i, k: rank(r) })).sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.r);
}
