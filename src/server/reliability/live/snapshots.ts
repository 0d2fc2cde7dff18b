import type { Db } from "../../platform/db/client";
import { inReadSnapshot } from "../../platform/db/transaction";
import { listFailureGroups } from "../failures/groups";
import { countRecordsByState } from "../idempotency/queries";
import { outboxStats } from "../outbox/queries";
import type { SagaMetrics } from "../saga/queries";

/** What the console can watch live: one feed per reliability mechanism. */
export const LIVE_TOPICS = ["outbox", "sagas", "idempotency", "failures"] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

/** The overview's window, so the outbox snapshot is exactly what `admin.outbox.stats` answers for it. */
export const LIVE_OUTBOX_WINDOW_MINUTES = 15;

/** The overview's top failure groups, so the failures snapshot is exactly what `admin.failures.groups` answers for it. */
export const LIVE_FAILURE_GROUPS_LIMIT = 5;

/** What the snapshots are read from. */
export interface SnapshotSources {
  db: Db;
  outboxStalledAfterMs?: number;
  /** The saga service's counts (reliability/saga/queries.ts), on the same database. */
  sagaMetrics: () => Promise<SagaMetrics>;
}

async function outboxSnapshot(sources: SnapshotSources) {
  const { db } = sources;
  const stats = await outboxStats(db, { windowMinutes: LIVE_OUTBOX_WINDOW_MINUTES, stalledAfterMs: sources.outboxStalledAfterMs });
  // Counts alone miss an event that fails again (failed → publishing → failed) or a new one between
  // two reads: the newest id and last failure (both from an index) catch those.
  const [marks] = await db.$queryRaw<Array<{ newest: string | null; last_failed: Date | null }>>`
    SELECT (SELECT id::text FROM outbox_event ORDER BY id DESC LIMIT 1) AS newest,
           (SELECT max(last_failed_at) FROM outbox_event WHERE last_failed_at IS NOT NULL) AS last_failed`;
  return { stats, marks: { newest: marks?.newest ?? null, lastFailedAt: marks?.last_failed?.toISOString() ?? null } };
}

async function sagasSnapshot(sources: SnapshotSources) {
  const metrics = await sources.sagaMetrics();
  // A step moving on changes no count: the newest updated_at per status (the (status, updated_at) index) does.
  const marks = await sources.db.$queryRaw<Array<{ status: string; updated: Date | null }>>`
    SELECT s.status::text AS status, (SELECT max(updated_at) FROM saga_instance i WHERE i.status = s.status) AS updated
    FROM unnest(enum_range(NULL::"SagaStatus")) AS s(status)`;
  return { metrics, marks: Object.fromEntries(marks.map((m) => [m.status, m.updated?.toISOString() ?? null])) };
}

async function idempotencySnapshot({ db }: SnapshotSources) {
  const records = await countRecordsByState(db);
  const [newest] = await db.$queryRaw<Array<{ id: string | null }>>`SELECT id::text AS id FROM idempotency_key ORDER BY id DESC LIMIT 1`;
  return { records, newest: newest?.id ?? null };
}

async function failuresSnapshot({ db }: SnapshotSources) {
  const groups = await listFailureGroups(db, { limit: LIVE_FAILURE_GROUPS_LIMIT });
  // The top groups miss a change further down (a new failure in the sixth group, a group retried
  // away): a digest of every counter row (one per group, type and status: the failures page's whole
  // list) catches it, so the failures page can ride this topic too.
  const [all] = await db.$queryRaw<Array<{ rows: number; digest: string }>>`
    SELECT count(*)::int AS rows,
           md5(coalesce(string_agg(concat_ws(':', source, fingerprint, type, status, count, last_seen), ',' ORDER BY source, fingerprint, type, status), '')) AS digest
    FROM failure_group_count WHERE count > 0`;
  return { groups, marks: { rows: all?.rows ?? 0, digest: all?.digest ?? "" } };
}

export type OutboxSnapshot = Awaited<ReturnType<typeof outboxSnapshot>>;
export type SagasSnapshot = Awaited<ReturnType<typeof sagasSnapshot>>;
export type IdempotencySnapshot = Awaited<ReturnType<typeof idempotencySnapshot>>;
export type FailuresSnapshot = Awaited<ReturnType<typeof failuresSnapshot>>;
export interface LiveSnapshots {
  outbox: OutboxSnapshot;
  sagas: SagasSnapshot;
  idempotency: IdempotencySnapshot;
  failures: FailuresSnapshot;
}

const readers: { [K in LiveTopic]: (sources: SnapshotSources) => Promise<LiveSnapshots[K]> } = {
  outbox: outboxSnapshot,
  sagas: sagasSnapshot,
  idempotency: idempotencySnapshot,
  failures: failuresSnapshot,
};

/**
 * One snapshot of a topic. Its several queries run in one REPEATABLE READ READ ONLY transaction, so
 * the tiles it feeds agree with each other (the newest event is one of those counted, the counts
 * add up) even while writers commit between two of its queries.
 */
export function readSnapshot<K extends LiveTopic>(topic: K, sources: SnapshotSources): Promise<LiveSnapshots[K]> {
  return inReadSnapshot(sources.db, () => readers[topic](sources));
}

/**
 * What counts as a change leaves out what moves with the clock (ages, per-minute rates), so a quiet
 * system sends nothing after the first snapshot. The same value gives the same version in every
 * process, so an event id from one instance resumes on another.
 */
export const changeKeys: { [K in LiveTopic]: (s: LiveSnapshots[K]) => unknown } = {
  outbox: (s) => ({ counts: s.stats.counts, marks: s.marks }),
  sagas: (s) => ({ byStatus: s.metrics.byStatus, marks: s.marks }),
  idempotency: (s) => s,
  // Nothing in it moves with the clock (first/last seen are failure times).
  failures: (s) => s,
};
