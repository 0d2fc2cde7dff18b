import type { Logger } from "../../platform/logger";
import type { RedisClient } from "../../platform/redis";
import { createLiveHub, type LiveHub } from "./live-hub";
import { createPollingFeed, type PollingFeed } from "./polling-feed";
import { createSharedPoll, type SharedPoll } from "./shared-poll";
import { changeKeys, LIVE_TOPICS, readSnapshot, type LiveSnapshots, type LiveTopic, type SnapshotSources } from "./snapshots";

export { LIVE_TOPICS, LIVE_OUTBOX_WINDOW_MINUTES, LIVE_FAILURE_GROUPS_LIMIT, type LiveSnapshots, type LiveTopic } from "./snapshots";

/** How often a watched feed is read from PostgreSQL (once per deployment, whatever the number of instances and watchers). */
export const LIVE_POLL_INTERVAL_MS = 2_000;

/** The Redis channel of a topic's readings (its poller lease is `<channel>:poller`). */
export const liveChannel = (prefix: string, topic: LiveTopic) => `${prefix}:live:${topic}`;

export interface LiveFeedsOptions extends SnapshotSources {
  redis: RedisClient;
  logger: Logger;
  /** The app's Redis prefix (config.queuePrefix): the topics' channels and poller leases live under it. */
  queuePrefix: string;
  intervalMs?: number;
}

type Feeds = { [K in LiveTopic]: PollingFeed<LiveSnapshots[K]> };
type Polls = { [K in LiveTopic]: SharedPoll<LiveSnapshots[K]> };

/**
 * The console's live feeds of one process (`ctx.live`), built once by the composition root: a feed
 * per topic (`ctx.live.outbox`, `.sagas`, `.idempotency`, `.failures`) that streams wait on, each read from
 * PostgreSQL once per interval for the whole deployment (shared-poll.ts) whatever the number of
 * instances and watchers, and the one Redis subscriber connection they and the streams' session
 * watches listen through (`hub`). Nothing runs and no connection opens until someone watches.
 */
export function createLiveFeeds(options: LiveFeedsOptions): Feeds & { polls: Polls; hub: LiveHub } {
  const intervalMs = options.intervalMs ?? LIVE_POLL_INTERVAL_MS;
  const hub = createLiveHub({ redis: options.redis, logger: options.logger });

  function feedFor<K extends LiveTopic>(topic: K) {
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
      redis: options.redis,
      hub,
      channel: liveChannel(options.queuePrefix, topic),
      load: () => readSnapshot(topic, options),
      onReading: (value) => feed.offer(value),
      intervalMs,
    });
    return { feed, poll };
  }

  // One feed and one shared poll per topic, whatever the topics are (LIVE_TOPICS is the one list).
  const built = LIVE_TOPICS.map((topic) => [topic, feedFor(topic)] as const);
  return {
    ...(Object.fromEntries(built.map(([topic, b]) => [topic, b.feed])) as Feeds),
    polls: Object.fromEntries(built.map(([topic, b]) => [topic, b.poll])) as Polls,
    hub,
  };
}

export type LiveFeeds = ReturnType<typeof createLiveFeeds>;
