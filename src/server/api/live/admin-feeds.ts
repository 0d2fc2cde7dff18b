import type { Db } from "../../platform/db/client";
import { countRecordsByState } from "../../reliability/idempotency/queries";
import { outboxStats } from "../../reliability/outbox/queries";
import type { AppServices } from "../../services";
import { createLiveHub, type LiveHub } from "./live-hub";
import { createPollingFeed, type PollingFeed } from "./polling-feed";
import { createSharedPoll, type SharedPoll } from "./shared-poll";

/** What the console can watch live: one feed per reliability mechanism. */
export const LIVE_TOPICS = ["outbox", "sagas", "idempotency"] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

/** How often a watched feed is read from PostgreSQL (once per deployment, whatever the number of instances and watchers). */
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
/** A process's live machinery: its feeds, their shared polls, and the one subscriber connection. */
export interface LiveProcess {
  feeds: Feeds;
  polls: { [K in LiveTopic]: SharedPoll<LiveSnapshots[K]> };
  hub: LiveHub;
}
const liveByProcess = new WeakMap<Db, LiveProcess>();

const loaders: { [K in LiveTopic]: (services: AppServices) => Promise<LiveSnapshots[K]> } = {
  outbox: outboxSnapshot,
  sagas: sagasSnapshot,
  idempotency: (services) => idempotencySnapshot(services.db),
};

/**
 * What counts as a change leaves out what moves with the clock (ages, per-minute rates), so a quiet
 * system sends nothing after the first snapshot. The same value gives the same version in every
 * process, so an event id from one instance resumes on another.
 */
const changeKeys: { [K in LiveTopic]: (s: LiveSnapshots[K]) => unknown } = {
  outbox: (s) => ({ counts: s.stats.counts, marks: s.marks }),
  sagas: (s) => ({ byStatus: s.metrics.byStatus, marks: s.marks }),
  idempotency: (s) => s,
};

/** The Redis channel of a topic's readings (its poller lease is `<channel>:poller`). */
export const liveChannel = (prefix: string, topic: LiveTopic) => `${prefix}:live:${topic}`;

function feedFor<K extends LiveTopic>(topic: K, services: AppServices, hub: LiveHub, intervalMs: number) {
  // The feed and its shared poll refer to each other (each calls the other only later, once both exist):
  // the poll hands relayed readings to the feed, the feed's poll is the shared one's read.
  const feed: PollingFeed<LiveSnapshots[K]> = createPollingFeed({
    load: () => poll.read(),
    changeKey: changeKeys[topic],
    intervalMs,
    // A stream leaves a topic's wait between two rounds: hand the poller lease on only if nobody came back.
    onIdle: () => setTimeout(() => feed.waiting === 0 && void poll.idle(), intervalMs).unref(),
  });
  const poll = createSharedPoll<LiveSnapshots[K]>({
    redis: services.redis,
    hub,
    channel: liveChannel(services.config.queuePrefix, topic),
    load: () => loaders[topic](services),
    onReading: (value) => feed.offer(value),
    intervalMs,
  });
  return { feed, poll };
}

/**
 * The live machinery of one process (keyed by its database client: tests with their own database
 * get their own). Each watched topic is read from PostgreSQL once per interval for the whole
 * deployment (shared-poll.ts), whatever the number of instances and watchers.
 */
export function liveProcess(services: AppServices, intervalMs = LIVE_POLL_INTERVAL_MS): LiveProcess {
  let live = liveByProcess.get(services.db);
  if (!live) {
    const hub = createLiveHub({ redis: services.redis, logger: services.logger });
    const outbox = feedFor("outbox", services, hub, intervalMs);
    const sagas = feedFor("sagas", services, hub, intervalMs);
    const idempotency = feedFor("idempotency", services, hub, intervalMs);
    live = {
      hub,
      feeds: { outbox: outbox.feed, sagas: sagas.feed, idempotency: idempotency.feed },
      polls: { outbox: outbox.poll, sagas: sagas.poll, idempotency: idempotency.poll },
    };
    liveByProcess.set(services.db, live);
  }
  return live;
}

/** The live feeds of one process (see liveProcess). */
export function adminFeeds(services: AppServices, intervalMs = LIVE_POLL_INTERVAL_MS): Feeds {
  return liveProcess(services, intervalMs).feeds;
}
