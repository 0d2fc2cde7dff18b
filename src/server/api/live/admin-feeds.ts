import type { Db } from "../../platform/db/client";
import { countRecordsByState } from "../../reliability/idempotency/queries";
import { outboxStats } from "../../reliability/outbox/queries";
import type { AppServices } from "../../services";
import { createPollingFeed, type PollingFeed } from "./polling-feed";

/** What the console can watch live: one feed per reliability mechanism. */
export const LIVE_TOPICS = ["outbox", "sagas", "idempotency"] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

/** How often a watched feed reads PostgreSQL (per process, whatever the number of watchers). */
export const LIVE_POLL_INTERVAL_MS = 2_000;
/** The overview's window, so the outbox snapshot is exactly what `admin.outbox.stats` answers for it. */
export const LIVE_OUTBOX_WINDOW_MINUTES = 15;

async function outboxSnapshot(services: AppServices) {
  const stats = await outboxStats(services.db, { windowMinutes: LIVE_OUTBOX_WINDOW_MINUTES, stalledAfterMs: services.config.outboxStalledAfterMs });
  // Counts alone miss an event that fails again (failed → publishing → failed) or a new one between
  // two reads: the newest id and last failure (both from an index) catch those.
  const [marks] = await services.db.$queryRaw<Array<{ newest: string | null; last_failed: Date | null }>>`
    SELECT (SELECT id::text FROM outbox_event ORDER BY id DESC LIMIT 1) AS newest,
           (SELECT max(last_failed_at) FROM outbox_event WHERE last_failed_at IS NOT NULL) AS last_failed`;
  return { stats, marks: { newest: marks?.newest ?? null, lastFailedAt: marks?.last_failed?.toISOString() ?? null } };
}

async function sagasSnapshot(services: AppServices) {
  const metrics = await services.sagas.metrics({});
  // A step moving on changes no count: the newest updated_at per status (the (status, updated_at) index) does.
  const marks = await services.db.$queryRaw<Array<{ status: string; updated: Date | null }>>`
    SELECT s.status::text AS status, (SELECT max(updated_at) FROM saga_instance i WHERE i.status = s.status) AS updated
    FROM unnest(enum_range(NULL::"SagaStatus")) AS s(status)`;
  return { metrics, marks: Object.fromEntries(marks.map((m) => [m.status, m.updated?.toISOString() ?? null])) };
}

async function idempotencySnapshot(db: Db) {
  const records = await countRecordsByState(db);
  const [newest] = await db.$queryRaw<Array<{ id: string | null }>>`SELECT id::text AS id FROM idempotency_key ORDER BY id DESC LIMIT 1`;
  return { records, newest: newest?.id ?? null };
}

export type OutboxSnapshot = Awaited<ReturnType<typeof outboxSnapshot>>;
export type SagasSnapshot = Awaited<ReturnType<typeof sagasSnapshot>>;
export type IdempotencySnapshot = Awaited<ReturnType<typeof idempotencySnapshot>>;
export interface LiveSnapshots {
  outbox: OutboxSnapshot;
  sagas: SagasSnapshot;
  idempotency: IdempotencySnapshot;
}

type Feeds = { [K in LiveTopic]: PollingFeed<LiveSnapshots[K]> };
const feedsByProcess = new WeakMap<Db, Feeds>();

/**
 * The live feeds of one process (keyed by its database client: tests with their own database get
 * their own feeds). What counts as a change leaves out what moves with the clock (ages, per-minute
 * rates), so a quiet system sends nothing after the first snapshot.
 */
export function adminFeeds(services: AppServices, intervalMs = LIVE_POLL_INTERVAL_MS): Feeds {
  let feeds = feedsByProcess.get(services.db);
  if (!feeds) {
    feeds = {
      outbox: createPollingFeed({
        load: () => outboxSnapshot(services),
        changeKey: (s) => ({ counts: s.stats.counts, marks: s.marks }),
        intervalMs,
      }),
      sagas: createPollingFeed({
        load: () => sagasSnapshot(services),
        changeKey: (s) => ({ byStatus: s.metrics.byStatus, marks: s.marks }),
        intervalMs,
      }),
      idempotency: createPollingFeed({
        load: () => idempotencySnapshot(services.db),
        changeKey: (s) => s,
        intervalMs,
      }),
    };
    feedsByProcess.set(services.db, feeds);
  }
  return feeds;
}
