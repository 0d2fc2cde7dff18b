import { mgetKeys } from "~/server/platform/redis";
import { PreSerialized } from "../../platform/transformer";
import { decodeEntry, encodeEntry, sameVersions, type CacheEntry, type StoredEntry } from "./entry";
import type { CacheLogger } from "./error-gate";
import type { Invalidation } from "./invalidation";
import { assertCachePrefix, entryKey, lockKey, prefixTag, tagKey, type EntryAddress, type Keyspace } from "./keys";
import { ParsedEntries } from "./parsed-entries";
import type { RedisGuard } from "./redis-guard";
import { SingleFlight } from "./single-flight";
import type { StatsFlusher } from "./stats-flusher";
import { newToken } from "./token";

export interface CacheReadSpec extends EntryAddress {
  /** Fresh lifetime (ms). */
  ttlMs: number;
  /** Serve a value up to this long (ms) after it went stale while one loader refreshes it. 0: off. */
  swrMs?: number;
  /** Tags whose invalidation must drop this entry (the prefix's own tag is added automatically). */
  tags: ReadonlyArray<string>;
}

export interface ReadPathOptions {
  guard: RedisGuard;
  invalidation: Invalidation;
  stats: StatsFlusher;
  ks: Keyspace;
  logger: CacheLogger;
  /** How long one process may hold a key's loader lock (ms). Others wait at most this long, then load themselves. */
  lockTtlMs: number;
  /** Lifetime of tag tokens (s). */
  tagTtlSeconds: number;
}

type Source = "loaded" | "waited";
interface LoadOutcome<T> {
  value: T;
  loadMs: number;
  source: Source;
}

const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
// Create the token of every tag that has none yet, and return all tokens (one round trip, atomic per key).
const ENSURE_TAGS = `local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    v = ARGV[1] .. '.' .. i
    redis.call('SET', k, v, 'EX', ARGV[2])
  end
  out[i] = v
end
return out`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed<T>(loader: () => Promise<T>): Promise<{ value: T; loadMs: number }> {
  const started = performance.now();
  const value = await loader();
  return { value, loadMs: performance.now() - started };
}

/**
 * The read path of the cache: a hit in one MGET (entry + its tags' current tokens), a miss loaded
 * once per process (single-flight) and once per cluster (a short Redis lock, the others polling),
 * stale-while-revalidate refreshes in the background, and the bypass to the loader whenever Redis
 * is unusable (fail-open).
 */
export function createReadPath(options: ReadPathOptions) {
  const { guard, invalidation, stats, ks, logger, lockTtlMs, tagTtlSeconds } = options;
  const { redis, now } = guard;
  const timely = <T>(promise: Promise<T>) => guard.timely(promise);
  const count = stats.count;
  const loads = new SingleFlight<LoadOutcome<unknown>>();
  const refreshes = new SingleFlight<void>();
  /** Parses of hot entries, reused by hits that answer an HTTP response (see parsed-entries.ts). */
  const parsedForResponses = new ParsedEntries();

  /**
   * Count how a load-backed read was answered, with the loader time it cost (its own load: a miss,
   * or a bypass while Redis is unusable) or saved (another caller's load it joined or waited for).
   */
  function countAnswer(prefix: string, answer: "coalesced" | "waited" | "misses" | "bypassed", loadMs: number) {
    count(prefix, answer);
    count(prefix, answer === "misses" || answer === "bypassed" ? "loadMs" : "savedMs", loadMs);
  }

  async function ensureTags(keys: string[], current: Array<string | null>): Promise<string[]> {
    if (current.every((v) => v !== null)) return current as string[];
    return (await timely(redis.eval(ENSURE_TAGS, keys.length, ...keys, newToken(), tagTtlSeconds))) as string[];
  }

  async function releaseLock(lock: string, token: string) {
    try {
      await timely(redis.eval(RELEASE_LOCK, 1, lock, token));
    } catch (error) {
      guard.fail(error, "release lock"); // it expires by itself within lockTtlMs
    }
  }

  async function store(key: string, spec: CacheReadSpec, versions: string[], value: unknown, loadMs: number) {
    let payload: string;
    try {
      payload = encodeEntry({ value, versions, freshUntil: now() + spec.ttlMs, loadMs } satisfies CacheEntry);
    } catch (error) {
      logger.error({ err: error, key }, "query cache: result cannot be serialised, not cached");
      return;
    }
    try {
      await timely(redis.set(key, payload, "PX", Math.max(1, Math.round(spec.ttlMs + (spec.swrMs ?? 0)))));
    } catch (error) {
      guard.fail(error, "store");
    }
  }

  /** Run the loader holding the cross-process lock, store the value, release. */
  async function loadAsOwner<T>(key: string, lock: string, token: string, spec: CacheReadSpec, versions: string[], loader: () => Promise<T>) {
    try {
      const { value, loadMs } = await timed(loader);
      await store(key, spec, versions, value, loadMs);
      return { value, loadMs, source: "loaded" as const };
    } finally {
      await releaseLock(lock, token);
    }
  }

  /**
   * A miss: one loader per process (single-flight), one per cluster (lock). Processes that lose
   * the lock poll for the value; if the holder dies or is slower than its lock, they load themselves.
   */
  async function loadMissing<T>(key: string, tagKeys: string[], spec: CacheReadSpec, versions: string[], loader: () => Promise<T>): Promise<LoadOutcome<T>> {
    const lock = lockKey(ks, key, versions);
    const token = newToken();
    let acquired: boolean;
    try {
      acquired = (await timely(redis.set(lock, token, "PX", lockTtlMs, "NX"))) === "OK";
    } catch (error) {
      guard.fail(error, "lock");
      const { value, loadMs } = await timed(loader);
      return { value, loadMs, source: "loaded" };
    }
    if (acquired) return loadAsOwner(key, lock, token, spec, versions, loader);

    const deadline = now() + lockTtlMs;
    let delay = 5;
    while (now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 1.5, 50);
      let reply: Array<string | null>;
      try {
        reply = await timely(mgetKeys(redis, [key, lock, ...tagKeys]));
      } catch (error) {
        guard.fail(error, "wait");
        break;
      }
      const [raw, holder, ...current] = reply;
      if (!sameVersions(versions, current)) break; // invalidated while waiting: the holder's value is already dead
      const entry = raw ? decodeEntry(raw) : null;
      if (entry && sameVersions(entry.versions, current)) return { value: entry.value as T, loadMs: entry.loadMs, source: "waited" };
      if (!holder) {
        // The holder finished without a usable value (its loader failed) or its lock expired: take over.
        try {
          if ((await timely(redis.set(lock, token, "PX", lockTtlMs, "NX"))) === "OK") return loadAsOwner(key, lock, token, spec, versions, loader);
        } catch (error) {
          guard.fail(error, "lock");
          break;
        }
      }
    }
    // Timed out (or Redis failed, or the tags moved on): load ourselves rather than keep the caller waiting.
    // Storing under the versions read before this load is safe: if they moved, the entry is born dead.
    const { value, loadMs } = await timed(loader);
    if (guard.usable()) await store(key, spec, versions, value, loadMs);
    return { value, loadMs, source: "loaded" };
  }

  function refreshInBackground(key: string, spec: CacheReadSpec, versions: string[], loader: () => Promise<unknown>) {
    const flightKey = `${key}|${versions.join(",")}`;
    if (refreshes.has(flightKey)) return;
    refreshes
      .run(flightKey, async () => {
        const lock = lockKey(ks, key, versions);
        const token = newToken();
        if ((await timely(redis.set(lock, token, "PX", lockTtlMs, "NX"))) !== "OK") return; // another process refreshes
        const outcome = await loadAsOwner(key, lock, token, spec, versions, loader);
        count(spec.prefix, "loadMs", outcome.loadMs);
      })
      .promise.catch((error: unknown) => {
        // A failed refresh leaves the stale value in place until its window ends; the next miss retries.
        guard.errors.report(error, "background refresh");
      });
  }

  /** Redis unusable (or a pending invalidation touches this read): the loader answers, still once per process. */
  async function bypass<T>(key: string, spec: CacheReadSpec, loader: () => Promise<T>): Promise<T> {
    const flight = loads.run(`${key}|bypass|${invalidation.epoch}`, async () => ({ ...(await timed(loader)), source: "loaded" as const }));
    const outcome = (await flight.promise) as LoadOutcome<T>;
    countAnswer(spec.prefix, flight.joined ? "coalesced" : "bypassed", outcome.loadMs);
    return outcome.value;
  }

  /** The body of wrap(): `forResponse` answers a hit with the serialized value (see wrapForResponse). */
  return async function read<T>(spec: CacheReadSpec, loader: () => Promise<T>, forResponse: boolean): Promise<T | PreSerialized> {
    assertCachePrefix(spec.prefix);
    const key = entryKey(ks, spec);
    const tags = [prefixTag(spec.prefix), ...new Set(spec.tags)];
    if (!guard.usable() || invalidation.touchesPending(tags)) {
      guard.reportDisconnected("read");
      return bypass(key, spec, loader);
    }
    const tagKeys = tags.map((t) => tagKey(ks, t));
    let versions: string[];
    try {
      const [raw, ...current] = await timely(mgetKeys(redis, [key, ...tagKeys]));
      // A response-bound hit reuses the last parse of the same raw entry; an in-process caller
      // gets a value of its own (it may mutate it), so its parse is never shared.
      const entry: CacheEntry | null = !raw ? null : forResponse ? parsedForResponses.parse(key, raw) : decodeEntry(raw);
      if (entry && sameVersions(entry.versions, current)) {
        const fresh = now() <= entry.freshUntil;
        if (fresh || (spec.swrMs && now() <= entry.freshUntil + spec.swrMs)) {
          count(spec.prefix, fresh ? "hits" : "stale");
          count(spec.prefix, "savedMs", entry.loadMs);
          if (!fresh) refreshInBackground(key, spec, entry.versions, loader);
          return forResponse ? new PreSerialized(entry.value as StoredEntry["value"]) : (entry.value as T);
        }
      }
      versions = await ensureTags(tagKeys, current);
    } catch (error) {
      guard.fail(error, "read");
      return bypass(key, spec, loader);
    }
    // Callers that read the same tag versions share one load; a caller that read newer versions
    // (a write happened in between) starts its own, so it can never get the pre-write answer.
    const flight = loads.run(`${key}|${versions.join(",")}|${invalidation.epoch}`, () => loadMissing(key, tagKeys, spec, versions, loader));
    const outcome = (await flight.promise) as LoadOutcome<T>;
    countAnswer(spec.prefix, flight.joined ? "coalesced" : outcome.source === "waited" ? "waited" : "misses", outcome.loadMs);
    return outcome.value;
  };
}

export type CacheRead = ReturnType<typeof createReadPath>;
