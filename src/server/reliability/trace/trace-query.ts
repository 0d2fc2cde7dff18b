/**
 * One user action's whole chain, read from PostgreSQL only (the source of truth; no tracing
 * backend needed): the request (from its idempotency record), the record itself, the saga and its
 * steps, the outbox events it wrote and every consumer run on them, joined by the correlation id.
 * A consumer run is a record of the outbox's delivery-attempt history, written with each run's
 * outcome: a row of outbox_delivery_attempt (failures, duplicates) or, for a success, the attempt
 * columns of its inbox_entry row.
 *
 * The request row is DERIVED from the idempotency record rather than logged per request: a keyed
 * mutation already writes that row (procedure and caller in its scope, key, HTTP status, claim →
 * completion times), so the trace costs no extra write on the hot path. Every mutation the UI and
 * the typed client send carries a key (src/trpc/idempotency-link.ts); a call without one still
 * shows its saga, events and consumer runs, just without the request row.
 */
import type { Db } from "../../platform/db/client";
import { DomainError } from "../../platform/errors";

/**
 * What a trace starts from. `aggregate` is any outbox aggregate (a feature names its type: the files
 * feature's "file"): the trace of the action that created it, later actions offered as links.
 */
export type TraceAnchor =
  | { kind: "correlation" | "event" | "saga" | "idempotency"; id: string }
  | { kind: "aggregate"; aggregateType: string; id: string };
export type TraceAnchorKind = TraceAnchor["kind"];

export type TraceEntryKind = "request" | "idempotency" | "saga" | "saga-step" | "event" | "consumer-run";

export interface TraceEntry {
  kind: TraceEntryKind;
  id: string;
  /** The entry this one belongs to (a step's saga, a run's event), for indentation. */
  parentId: string | null;
  label: string;
  status: string;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  /** Short facts shown beside the bar (name → value). */
  facts: Array<[string, string]>;
  error: string | null;
  /** Console page of this entry, when it has one. */
  href: string | null;
}

export interface Trace {
  anchor: TraceAnchor;
  correlationId: string | null;
  /** Other actions touching the anchor (a file renamed later): links to their traces. */
  otherCorrelationIds: string[];
  entries: TraceEntry[];
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Per kind, at most this many rows: a trace page for one action, not a report. */
const LIMIT = 200;

const ms = (from: Date, to: Date | null) => (to ? Math.max(0, to.getTime() - from.getTime()) : null);
const enc = encodeURIComponent;

interface IdempotencyRow {
  id: string;
  scope: string;
  key: string;
  state: string;
  response_status: number | null;
  created_at: Date;
  completed_at: Date | null;
  expires_at: Date;
  correlation_id: string | null;
  user_email: string | null;
}
interface SagaRow {
  id: string;
  type: string;
  status: string;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
  correlation_id: string | null;
}
interface StepRow {
  id: string;
  saga_id: string;
  step_index: number;
  step_name: string;
  phase: string;
  status: string;
  attempts: number;
  started_at: Date;
  finished_at: Date | null;
  error: string | null;
}
interface EventRow {
  id: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_seq: number;
  status: string;
  attempts: number;
  created_at: Date;
  published_at: Date | null;
  consumed_at: Date | null;
  last_error: string | null;
  correlation_id: string | null;
}
interface RunRow {
  id: string;
  event_id: string;
  consumer: string;
  attempt: number;
  /** succeeded | duplicate | failed (DeliveryOutcome) */
  outcome: string;
  started_at: Date;
  duration_ms: number;
  error: string | null;
  worker: string;
}

/** The trace page's word for a run whose effect committed ("handled", as the consumer dispatcher says it). */
const runStatus = (outcome: string) => (outcome === "succeeded" ? "handled" : outcome);

export function createTraceQuery(db: Db) {
  /** The correlation id an anchor belongs to; `undefined` when the anchor does not exist. */
  async function resolve(anchor: TraceAnchor): Promise<{ correlationId: string | null; others: string[] } | undefined> {
    const { id } = anchor;
    switch (anchor.kind) {
      case "correlation":
        return { correlationId: id, others: [] };
      case "event": {
        const [row] = await db.$queryRaw<Array<{ c: string | null }>>`SELECT correlation_id AS c FROM outbox_event WHERE id = ${id}::uuid`;
        return row && { correlationId: row.c, others: [] };
      }
      case "saga": {
        const [row] = await db.$queryRaw<Array<{ c: string | null }>>`SELECT correlation_id AS c FROM saga_instance WHERE id = ${id}::uuid`;
        return row && { correlationId: row.c, others: [] };
      }
      case "idempotency": {
        const [row] = await db.$queryRaw<Array<{ c: string | null }>>`SELECT correlation_id AS c FROM idempotency_key WHERE id = ${id}::uuid`;
        return row && { correlationId: row.c, others: [] };
      }
      case "aggregate": {
        // An aggregate's trace is the action that created it; later actions on it are offered as links.
        const rows = await db.$queryRaw<Array<{ c: string | null }>>`
          SELECT correlation_id AS c FROM outbox_event
          WHERE aggregate_type = ${anchor.aggregateType} AND aggregate_id = ${id} ORDER BY aggregate_seq LIMIT ${LIMIT}`;
        if (rows.length === 0) return undefined;
        const ids = [...new Set(rows.map((r) => r.c).filter((c): c is string => c !== null))];
        return { correlationId: ids[0] ?? null, others: ids.slice(1) };
      }
    }
  }

  async function get(anchor: TraceAnchor): Promise<Trace> {
    const { kind, id } = anchor;
    const resolved = await resolve(anchor);
    const what = anchor.kind === "correlation" ? "correlation id" : anchor.kind === "aggregate" ? `${anchor.aggregateType} with events` : anchor.kind;
    if (!resolved) throw new DomainError("not_found", `No ${what} ${id} was found (it may have been cleaned up by retention)`);
    const { correlationId } = resolved;
    // Without a correlation id (rows written before it existed), the anchor alone is shown.
    const c = correlationId ?? "";
    const anchorId = (k: TraceAnchorKind) => (kind === k && !correlationId ? id : "00000000-0000-0000-0000-000000000000");

    const [records, sagas, events] = await Promise.all([
      db.$queryRaw<IdempotencyRow[]>`
        SELECT k.id, k.scope, k.key, k.state::text AS state, k.response_status, k.created_at, k.completed_at, k.expires_at,
               k.correlation_id, u.email AS user_email
        FROM idempotency_key k
        -- The scope starts with the user's id ("anon" when signed out): compared as a uuid, so the
        -- primary key answers it (u.id::text = … would read every user).
        LEFT JOIN app_user u ON u.id = CASE WHEN split_part(k.scope, ':', 1) ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                            THEN split_part(k.scope, ':', 1)::uuid END
        WHERE (k.correlation_id = ${c} AND ${c} <> '') OR k.id = ${anchorId("idempotency")}::uuid
        ORDER BY k.created_at LIMIT ${LIMIT}`,
      db.$queryRaw<SagaRow[]>`
        SELECT id, type, status::text AS status, last_error, created_at, finished_at, correlation_id FROM saga_instance
        WHERE (correlation_id = ${c} AND ${c} <> '') OR id = ${anchorId("saga")}::uuid
        ORDER BY created_at LIMIT ${LIMIT}`,
      db.$queryRaw<EventRow[]>`
        SELECT id, event_type, aggregate_type, aggregate_id, aggregate_seq, status::text AS status, attempts, created_at,
               published_at, consumed_at, last_error, correlation_id
        FROM outbox_event
        WHERE (correlation_id = ${c} AND ${c} <> '') OR id = ${anchorId("event")}::uuid
           OR (${anchor.kind === "aggregate" && !correlationId} AND aggregate_type = ${anchor.kind === "aggregate" ? anchor.aggregateType : ""} AND aggregate_id = ${id})
        ORDER BY created_at, aggregate_seq LIMIT ${LIMIT}`,
    ]);
    const sagaIds = sagas.map((s) => s.id);
    const eventIds = events.map((e) => e.id);
    const [steps, runs] = await Promise.all([
      sagaIds.length === 0
        ? []
        : db.$queryRaw<StepRow[]>`
            SELECT id, saga_id, step_index, step_name, phase::text AS phase, status::text AS status, attempts, started_at, finished_at, error
            FROM saga_step_log WHERE saga_id = ANY(${sagaIds}::uuid[]) ORDER BY started_at LIMIT ${LIMIT * 4}`,
      eventIds.length === 0
        ? []
        : db.$queryRaw<RunRow[]>`
            SELECT id::text AS id, event_id, consumer, attempt, outcome::text AS outcome, started_at, duration_ms, error, worker
            FROM outbox_delivery_attempt WHERE event_id = ANY(${eventIds}::uuid[])
            UNION ALL
            -- Successful runs are kept in their inbox rows (see InboxEntry).
            SELECT 'inbox:' || consumer || ':' || event_id::text, event_id, consumer, coalesce(attempt, 1), 'succeeded', started_at, coalesce(duration_ms, 0), NULL, coalesce(worker, 'unknown')
            FROM inbox_entry WHERE event_id = ANY(${eventIds}::uuid[]) AND started_at IS NOT NULL
            ORDER BY started_at LIMIT ${LIMIT * 4}`,
    ]);

    const entries: TraceEntry[] = [];
    for (const r of records) {
      const procedure = r.scope.slice(r.scope.indexOf(":") + 1);
      entries.push({
        kind: "request",
        id: `request:${r.id}`,
        parentId: null,
        label: procedure,
        status: r.response_status !== null ? String(r.response_status) : r.state === "in_progress" ? "in progress" : "—",
        startedAt: r.created_at,
        finishedAt: r.completed_at,
        durationMs: ms(r.created_at, r.completed_at),
        facts: [
          ["user", r.user_email ?? r.scope.slice(0, r.scope.indexOf(":"))],
          ["Idempotency-Key", r.key],
          ...(r.correlation_id ? ([["correlation id", r.correlation_id]] as Array<[string, string]>) : []),
        ],
        error: r.response_status !== null && r.response_status >= 400 ? `answered ${r.response_status}` : null,
        href: null,
      });
      entries.push({
        kind: "idempotency",
        id: r.id,
        parentId: `request:${r.id}`,
        label: "idempotency record",
        status: r.state,
        startedAt: r.created_at,
        finishedAt: r.completed_at,
        durationMs: ms(r.created_at, r.completed_at),
        facts: [["expires", r.expires_at.toISOString()]],
        error: null,
        // The idempotency page lists records without a per-key address: the facts above say it all.
        href: null,
      });
    }
    for (const s of sagas) {
      entries.push({
        kind: "saga",
        id: s.id,
        parentId: null,
        label: `saga ${s.type}`,
        status: s.status,
        startedAt: s.created_at,
        finishedAt: s.finished_at,
        durationMs: ms(s.created_at, s.finished_at),
        facts: [["steps", String(steps.filter((st) => st.saga_id === s.id && st.phase === "execute").length)]],
        error: s.last_error,
        href: `/admin/sagas/${enc(s.id)}`,
      });
    }
    for (const st of steps) {
      entries.push({
        kind: "saga-step",
        id: st.id,
        parentId: st.saga_id,
        label: `${st.phase === "compensate" ? "compensate " : ""}${st.step_name}`,
        status: st.status,
        startedAt: st.started_at,
        finishedAt: st.finished_at,
        durationMs: ms(st.started_at, st.finished_at),
        facts: [
          ["step", `#${st.step_index} ${st.phase}`],
          ["attempts", String(st.attempts)],
        ],
        error: st.error,
        href: `/admin/sagas/${enc(st.saga_id)}`,
      });
    }
    for (const e of events) {
      entries.push({
        kind: "event",
        id: e.id,
        parentId: null,
        label: e.event_type,
        status: e.status,
        startedAt: e.created_at,
        finishedAt: e.consumed_at,
        durationMs: ms(e.created_at, e.consumed_at),
        facts: [
          ["aggregate", `${e.aggregate_type}:${e.aggregate_id} #${e.aggregate_seq}`],
          ["relay delay", e.published_at ? `${ms(e.created_at, e.published_at)} ms` : "not published"],
          ["attempts", String(e.attempts)],
        ],
        error: e.last_error,
        href: `/admin/outbox/${enc(e.id)}`,
      });
    }
    for (const run of runs) {
      entries.push({
        kind: "consumer-run",
        id: run.id,
        parentId: run.event_id,
        label: `consumer ${run.consumer}`,
        status: runStatus(run.outcome),
        startedAt: run.started_at,
        finishedAt: new Date(run.started_at.getTime() + run.duration_ms),
        durationMs: run.duration_ms,
        facts: [
          ["attempt", String(run.attempt)],
          ["worker", run.worker],
        ],
        error: run.error,
        href: null,
      });
    }
    // Time order; on a tie the cause before its effect (request, record, saga, step, event, run).
    const rank: Record<TraceEntryKind, number> = { request: 0, idempotency: 1, saga: 2, "saga-step": 3, event: 4, "consumer-run": 5 };
    entries.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || rank[a.kind] - rank[b.kind]);
    const starts = entries.map((e) => e.startedAt.getTime());
    const ends = entries.map((e) => (e.finishedAt ?? e.startedAt).getTime());
    return {
      anchor,
      correlationId,
      otherCorrelationIds: resolved.others,
      entries,
      startedAt: starts.length ? new Date(Math.min(...starts)) : null,
      finishedAt: ends.length ? new Date(Math.max(...ends)) : null,
    };
  }

  return { get };
}
