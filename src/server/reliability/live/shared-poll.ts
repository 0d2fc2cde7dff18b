import { randomUUID } from "node:crypto";
import type { RedisClient } from "../../platform/redis";
import { transformer } from "../../platform/transformer";
import type { LiveHub } from "./live-hub";

/**
 * One PostgreSQL poll per live topic for the whole deployment, not one per web instance.
 *
 * Every instance that has watchers of a topic ticks once per interval. A tick first takes (or
 * renews) the topic's poller lease in Redis (SET NX PX, one key); the instance holding it reads
 * PostgreSQL and PUBLISHes the reading, every other instance takes the readings from the channel
 * (its feed wakes its own watchers) and reads nothing. So N instances × M operators cost one read
 * per topic per interval.
 *
 * Polling stays the fallback, per instance: when Redis cannot be asked (lease command fails) or no
 * relayed reading has arrived for `staleAfterMs` (the poller died before its lease ran out, the
 * subscription is down, a message was lost), the tick reads PostgreSQL itself, as every instance
 * did before. A reading is a whole snapshot, so a lost message costs nothing once the next one
 * arrives.
 */
export interface SharedPollOptions<T> {
  redis: RedisClient;
  hub: LiveHub;
  /** `<prefix>:live:<topic>`: the channel; the lease key is `<channel>:poller`. */
  channel: string;
  /** The PostgreSQL read. */
  load: () => Promise<T>;
  /** A relayed reading (another instance's poll): handed to the feed. */
  onReading: (value: T) => void;
  intervalMs: number;
}

/** Takes the lease if free, renews it if ours: 1 when this instance is the poller. */
const LEASE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Counts of what a shared poll did in this process (tests and diagnostics). */
export interface SharedPollCounts {
  /** Readings this process's feed asked for (one per interval while watched). */
  ticks: number;
  /** PostgreSQL reads made here (as the poller, or as the fallback). */
  reads: number;
  /** Of those, fallback reads (no lease answer, or no fresh relayed reading). */
  fallbackReads: number;
  /** Readings received from another instance. */
  relayed: number;
}

export function createSharedPoll<T>(opts: SharedPollOptions<T>) {
  const token = randomUUID();
  const leaseKey = `${opts.channel}:poller`;
  // A poller renews every interval; three missed renewals hand the topic to another instance.
  const leaseMs = opts.intervalMs * 3;
  const staleAfterMs = opts.intervalMs * 3;
  const counts: SharedPollCounts = { ticks: 0, reads: 0, fallbackReads: 0, relayed: 0 };
  let relayed: { value: T; at: number } | null = null;
  let stopListening: (() => void) | null = null;
  let polling = false;

  function listen() {
    stopListening ??= opts.hub.listen(opts.channel, (message) => {
      const { from, reading } = JSON.parse(message) as { from: string; reading: Parameters<typeof transformer.deserialize>[0] };
      if (from === token) return; // our own poll: already applied
      const value = transformer.deserialize<T>(reading);
      relayed = { value, at: Date.now() };
      counts.relayed += 1;
      opts.onReading(value);
    });
  }

  async function isPoller(): Promise<boolean | null> {
    try {
      return (await opts.redis.eval(LEASE_SCRIPT, 1, leaseKey, token, String(leaseMs))) === 1;
    } catch {
      return null; // Redis cannot be asked: read PostgreSQL ourselves
    }
  }

  return {
    counts,
    /** One tick's reading: from PostgreSQL (as the poller, or as the fallback) or the latest relayed one. */
    async read(): Promise<T> {
      listen();
      polling = true;
      counts.ticks += 1;
      const poller = await isPoller();
      if (poller === false && relayed && Date.now() - relayed.at <= staleAfterMs) return relayed.value;
      const value = await opts.load();
      counts.reads += 1;
      if (poller) {
        // Best effort: an instance that misses it reads for itself once its relayed reading is stale.
        await opts.redis.publish(opts.channel, JSON.stringify({ from: token, reading: transformer.serialize(value) })).catch(() => 0);
      } else {
        counts.fallbackReads += 1;
      }
      return value;
    },
    /** Nobody here watches any more: stop listening and hand the lease on at once. */
    async idle(): Promise<void> {
      if (!polling) return;
      polling = false;
      stopListening?.();
      stopListening = null;
      relayed = null;
      await opts.redis.eval(RELEASE_SCRIPT, 1, leaseKey, token).catch(() => 0);
    },
  };
}

export type SharedPoll<T> = ReturnType<typeof createSharedPoll<T>>;
