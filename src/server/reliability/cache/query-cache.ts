import { randomBytes } from "node:crypto";
import { isCluster, mgetKeys, scanKeys, unlinkKeys, type RedisClient } from "~/server/platform/redis";
import { withDeadline } from "./deadline";
import { PreSerialized } from "../../platform/transformer";
import { decodeEntry, encodeEntry, sameVersions, type CacheEntry, type StoredEntry } from "./entry";
import { createErrorGate, type CacheLogger } from "./error-gate";
import {
  assertCachePrefix,
  entryKey,
  entryPattern,
  keyspace,
  lockKey,
  prefixOfEntryKey,
  prefixTag,
  statsKey,
  tagKey,
  type EntryAddress,
} from "./keys";
import { ParsedEntries } from "./parsed-entries";
import { SingleFlight } from "./single-flight";
import {
  COUNTER_FIELDS,
  CounterBuffer,
  emptyCounters,
  hitRate,
  parseStatsHash,
  statsField,
  type CounterField,
  type PrefixCounters,
  type PrefixStats,
} from "./stats";

/**
 * Cache-aside for query results, with versioned tags.
 *
 * Invalidation model: each tag has a version token in Redis; an entry stores the tokens of its tags
 * as read BEFORE its loader ran; a read fetches the entry and the current tokens in one MGET and
 * only serves the entry if they are equal. Invalidating a tag replaces its token (O(1), no sets to
 * walk, never KEYS). Because the reader snapshots the tokens before it loads, a load that overlaps
 * a write can never be served after that write's invalidation: the write commits, THEN the token
 * changes, so either the reader saw the new token (and its load ran after the commit) or its entry
 * carries the old token and is dead on arrival.
 *
 * Staleness bound after a committed write (see also invalidateForFileEvent):
 *   1. the mutation middleware replaces the tag tokens right after the commit, before the response
 *      is sent: the writer reads its own write, other readers see it within the commit→DEL gap (ms);
 *   2. if the process dies in that gap, or Redis is unreachable for the DEL, the outbox event of the
 *      same transaction reaches a consumer that invalidates (retrying until Redis answers): the
 *      bound is the outbox relay + consumer latency (seconds);
 *   3. if neither runs (outbox not wired, events lost), the entry's TTL ends it: never more than ttl
 *      (+ the stale-while-revalidate window for procedures that opt in).
 */
export interface QueryCacheOptions {
  /** The dedicated fail-fast client (createCacheRedis): every hot-path command goes through it. */
  redis: RedisClient;
  /**
   * Deadline of one hot-path command (ms): past it the loader answers instead (fail-open). Measured
   * so that a busy event loop is not mistaken for a slow Redis (see deadline.ts).
   */
  commandTimeoutMs?: number;
  /** A patient client for operator actions (SCAN-based flush, key counts); defaults to `redis`. */
  adminRedis?: RedisClient;
  /** The app's Redis prefix (config.queuePrefix): keys live under `<appPrefix>:cache:`. */
  appPrefix: string;
  logger: CacheLogger;
  /** How long one process may hold a key's loader lock (ms). Others wait at most this long, then load themselves. */
  lockTtlMs?: number;
  /** Lifetime of tag tokens (s). Expiry is safe (entries under the tag just miss), so this only bounds memory. */
  tagTtlSeconds?: number;
  /** At most one log line per interval while Redis fails (ms). */
  errorLogIntervalMs?: number;
  /** After a Redis error, reads skip Redis for this long (ms) instead of paying the timeout on every request. */
  breakerMs?: number;
  /** How often counters are flushed to Redis (ms); 0 disables the timer (flush on stats()/close()). */
  statsFlushMs?: number;
  now?: () => number;
}

export interface CacheReadSpec extends EntryAddress {
  /** Fresh lifetime (ms). */
  ttlMs: number;
  /** Serve a value up to this long (ms) after it went stale while one loader refreshes it. 0: off. */
  swrMs?: number;
  /** Tags whose invalidation must drop this entry (the prefix's own tag is added automatically). */
  tags: ReadonlyArray<string>;
}

export interface CacheStatsReport {
  prefixes: Array<{ prefix: string } & PrefixStats>;
  totals: PrefixStats;
  /** Redis failures counted by this process (each process counts its own). */
  errors: { thisProcess: number; last: { message: string; at: Date } | null };
  redis: { status: string; breakerOpen: boolean; pendingInvalidations: number };
  keysScanLimitReached: boolean;
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

/** Bounds of the "keys per prefix" count: it walks the whole Redis keyspace (shared with BullMQ). */
const MAX_KEYS_COUNTED = 1_000_000;
const MAX_SCAN_CALLS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newToken = () => `${Date.now().toString(36)}${randomBytes(6).toString("base64url")}`;

export function createQueryCache(options: QueryCacheOptions) {
  const { redis, logger } = options;
  const adminRedis = options.adminRedis ?? redis;
  const ks = keyspace(options.appPrefix);
  const now = options.now ?? Date.now;
  const lockTtlMs = options.lockTtlMs ?? 3000;
  const tagTtlSeconds = options.tagTtlSeconds ?? 24 * 3600;
  const breakerMs = options.breakerMs ?? 500;
  const commandTimeoutMs = options.commandTimeoutMs ?? 20;
  const timely = <T>(promise: Promise<T>) => withDeadline(promise, commandTimeoutMs);
  const errors = createErrorGate(logger, options.errorLogIntervalMs ?? 10_000, now);
  const counters = new CounterBuffer();
  const loads = new SingleFlight<LoadOutcome<unknown>>();
  const refreshes = new SingleFlight<void>();
  /** Parses of hot entries, reused by hits that answer an HTTP response (see parsed-entries.ts). */
  const parsedForResponses = new ParsedEntries();
  /** Tags whose invalidation has not reached Redis yet: reads touching them bypass the cache. */
  const pendingInvalidations = new Set<string>();
  let breakerOpenUntil = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let closed = false;
  /** Bumped by every local invalidation: in-process loads started before one are not joined after it. */
  let localEpoch = 0;

  const count = (prefix: string, field: CounterField, n = 1) => counters.add(prefix, field, n);

  function fail(error: unknown, operation: string) {
    breakerOpenUntil = now() + breakerMs;
    errors.report(error, operation);
  }

  /** Whether a read should go to Redis at all right now. */
  function redisUsable(): boolean {
    return !closed && redis.status === "ready" && now() >= breakerOpenUntil;
  }

  /** A disconnected client fails no command (we do not send any): count and log the outage itself. */
  function reportDisconnected(operation: string) {
    if (!closed && redis.status !== "ready") errors.report(new Error(`Redis connection is ${redis.status}`), operation);
  }

  async function ensureTags(keys: string[], current: Array<string | null>): Promise<string[]> {
    if (current.every((v) => v !== null)) return current as string[];
    return (await timely(redis.eval(ENSURE_TAGS, keys.length, ...keys, newToken(), tagTtlSeconds))) as string[];
  }

  async function releaseLock(lock: string, token: string) {
    try {
      await timely(redis.eval(RELEASE_LOCK, 1, lock, token));
    } catch (error) {
      fail(error, "release lock"); // it expires by itself within lockTtlMs
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
      fail(error, "store");
    }
  }

  async function timed<T>(loader: () => Promise<T>): Promise<{ value: T; loadMs: number }> {
    const started = performance.now();
    const value = await loader();
    return { value, loadMs: performance.now() - started };
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
      fail(error, "lock");
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
        fail(error, "wait");
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
          fail(error, "lock");
          break;
        }
      }
    }
    // Timed out (or Redis failed, or the tags moved on): load ourselves rather than keep the caller waiting.
    // Storing under the versions read before this load is safe: if they moved, the entry is born dead.
    const { value, loadMs } = await timed(loader);
    if (redisUsable()) await store(key, spec, versions, value, loadMs);
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
        errors.report(error, "background refresh");
      });
  }

  /** Redis unusable (or a pending invalidation touches this read): the loader answers, still once per process. */
  async function bypass<T>(key: string, spec: CacheReadSpec, loader: () => Promise<T>): Promise<T> {
    const flight = loads.run(`${key}|bypass|${localEpoch}`, async () => ({ ...(await timed(loader)), source: "loaded" as const }));
    const outcome = (await flight.promise) as LoadOutcome<T>;
    if (flight.joined) {
      count(spec.prefix, "coalesced");
      count(spec.prefix, "savedMs", outcome.loadMs);
    } else {
      count(spec.prefix, "bypassed");
      count(spec.prefix, "loadMs", outcome.loadMs);
    }
    return outcome.value;
  }

  function scheduleRetry() {
    if (retryTimer || closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void flushPendingInvalidations();
    }, 250);
    retryTimer.unref();
  }

  async function flushPendingInvalidations(): Promise<boolean> {
    if (pendingInvalidations.size === 0) return true;
    const tags = [...pendingInvalidations];
    const ok = await writeTagTokens(tags);
    if (ok) {
      for (const tag of tags) pendingInvalidations.delete(tag);
      logger.warn({ tags: tags.length }, "query cache: invalidations delayed by a Redis outage have now been applied");
    } else scheduleRetry();
    return ok;
  }

  async function writeTagTokens(tags: string[]): Promise<boolean> {
    if (closed || redis.status !== "ready") {
      reportDisconnected("invalidate");
      return false;
    }
    const token = newToken();
    try {
      const pipeline = redis.pipeline();
      for (const tag of tags) pipeline.set(tagKey(ks, tag), token, "EX", tagTtlSeconds);
      const results = (await timely(pipeline.exec())) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw failed[0];
      return true;
    } catch (error) {
      fail(error, "invalidate");
      return false;
    }
  }

  redis.on("error", (error: unknown) => {
    // ioredis emits connection errors as events; without a listener it prints each one.
    errors.report(error, "connection");
  });
  redis.on("ready", () => {
    breakerOpenUntil = 0;
    void flushPendingInvalidations();
  });

  let statsTimer: NodeJS.Timeout | null = null;
  if ((options.statsFlushMs ?? 2000) > 0) {
    statsTimer = setInterval(() => void flushCounters(), options.statsFlushMs ?? 2000);
    statsTimer.unref();
  }

  async function flushCounters(): Promise<void> {
    const deltas = counters.drain();
    if (deltas.size === 0) return;
    if (redis.status !== "ready") {
      counters.restore(deltas);
      return;
    }
    try {
      const pipeline = redis.pipeline();
      for (const [prefix, c] of deltas) {
        for (const f of COUNTER_FIELDS) {
          if (!c[f]) continue;
          if (Number.isInteger(c[f])) pipeline.hincrby(statsKey(ks), statsField(prefix, f), c[f]);
          else pipeline.hincrbyfloat(statsKey(ks), statsField(prefix, f), c[f]);
        }
      }
      const results = (await timely(pipeline.exec())) ?? [];
      if (results.some(([error]) => error)) throw results.find(([error]) => error)![0];
    } catch (error) {
      counters.restore(deltas);
      fail(error, "stats");
    }
  }

  /** The body of wrap(): `forResponse` answers a hit with the serialized value (see wrapForResponse). */
  async function read<T>(spec: CacheReadSpec, loader: () => Promise<T>, forResponse: boolean): Promise<T | PreSerialized> {
    assertCachePrefix(spec.prefix);
    const key = entryKey(ks, spec);
    const tags = [prefixTag(spec.prefix), ...new Set(spec.tags)];
    if (!redisUsable() || (pendingInvalidations.size > 0 && tags.some((t) => pendingInvalidations.has(t)))) {
      reportDisconnected("read");
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
      fail(error, "read");
      return bypass(key, spec, loader);
    }
    // Callers that read the same tag versions share one load; a caller that read newer versions
    // (a write happened in between) starts its own, so it can never get the pre-write answer.
    const flight = loads.run(`${key}|${versions.join(",")}|${localEpoch}`, () => loadMissing(key, tagKeys, spec, versions, loader));
    const outcome = (await flight.promise) as LoadOutcome<T>;
    if (flight.joined) {
      count(spec.prefix, "coalesced");
      count(spec.prefix, "savedMs", outcome.loadMs);
    } else if (outcome.source === "waited") {
      count(spec.prefix, "waited");
      count(spec.prefix, "savedMs", outcome.loadMs);
    } else {
      count(spec.prefix, "misses");
      count(spec.prefix, "loadMs", outcome.loadMs);
    }
    return outcome.value;
  }

  return {
    /**
     * Cache-aside read: the entry if it is present, fresh and none of its tags moved; otherwise the
     * loader, run once across concurrent callers and processes. Never throws for a Redis problem:
     * it answers from the loader instead (fail-open). Loader errors are passed on and never cached.
     */
    async wrap<T>(spec: CacheReadSpec, loader: () => Promise<T>): Promise<T> {
      return read(spec, loader, false) as Promise<T>;
    },

    /**
     * wrap() for a result that goes straight into an HTTP response: a hit answers with the stored
     * value still serialized (PreSerialized, which the response transformer sends as is), skipping
     * the decode and the re-encode of the value. A miss answers with the loader's own value.
     */
    async wrapForResponse<T>(spec: CacheReadSpec, loader: () => Promise<T>): Promise<T | PreSerialized> {
      return read(spec, loader, true);
    },

    /**
     * Make every entry carrying any of these tags a miss. Never throws: if Redis cannot be reached
     * the tags are kept and retried (reads touching them bypass the cache meanwhile), and `ok: false`
     * tells a caller that must be sure (the outbox consumer) to retry itself.
     */
    async invalidate(tags: ReadonlyArray<string>): Promise<{ ok: boolean }> {
      const unique = [...new Set(tags)].filter((t) => t.length > 0);
      if (unique.length === 0) return { ok: true };
      localEpoch += 1;
      if (await writeTagTokens(unique)) return { ok: true };
      for (const tag of unique) pendingInvalidations.add(tag);
      scheduleRetry();
      return { ok: false };
    },

    /**
     * Drop every entry of a prefix: first its tag (instant, and race-free against loads in flight),
     * then the keys themselves with SCAN + UNLINK in batches (never KEYS, which blocks Redis).
     */
    async flushPrefix(prefix: string, batch = 1000): Promise<{ deleted: number }> {
      assertCachePrefix(prefix);
      const { ok } = await this.invalidate([prefixTag(prefix)]);
      if (!ok) throw new Error("Redis is unreachable: the prefix could not be flushed (its entries expire with their TTL)");
      let deleted = 0;
      for await (const keys of scanKeys(adminRedis, entryPattern(ks, prefix), batch)) deleted += await unlinkKeys(adminRedis, keys);
      return { deleted };
    },

    /** Invalidate one tag on operator request. */
    async flushTag(tag: string): Promise<{ ok: boolean }> {
      return this.invalidate([tag]);
    },

    /** Counters of every process (flushed to Redis) plus this process's unflushed ones, and keys per prefix. */
    async stats(): Promise<CacheStatsReport> {
      await flushCounters();
      const flushed = parseStatsHash(await adminRedis.hgetall(statsKey(ks)));
      for (const [prefix, c] of counters.peek()) {
        const into = flushed.get(prefix) ?? emptyCounters();
        for (const f of COUNTER_FIELDS) into[f] += c[f];
        flushed.set(prefix, into);
      }
      const keysPerPrefix = new Map<string, number>();
      let counted = 0;
      let calls = 0;
      let limitReached = false;
      for await (const keys of scanKeys(adminRedis, entryPattern(ks), 1000)) {
        calls += 1;
        counted += keys.length;
        for (const key of keys) {
          const prefix = prefixOfEntryKey(ks, key);
          if (prefix) keysPerPrefix.set(prefix, (keysPerPrefix.get(prefix) ?? 0) + 1);
        }
        if (counted >= MAX_KEYS_COUNTED || calls >= MAX_SCAN_CALLS) {
          limitReached = true;
          break;
        }
      }
      const names = [...new Set([...flushed.keys(), ...keysPerPrefix.keys()])].sort();
      const totals = emptyCounters();
      const prefixes = names.map((prefix) => {
        const c: PrefixCounters = flushed.get(prefix) ?? emptyCounters();
        for (const f of COUNTER_FIELDS) totals[f] += c[f];
        return { prefix, ...roundMs(c), hitRate: hitRate(c), keys: keysPerPrefix.get(prefix) ?? 0 };
      });
      const totalKeys = prefixes.reduce((s, p) => s + p.keys, 0);
      return {
        prefixes,
        totals: { ...roundMs(totals), hitRate: hitRate(totals), keys: totalKeys },
        errors: { thisProcess: errors.total, last: errors.lastError },
        redis: { status: redis.status, breakerOpen: now() < breakerOpenUntil, pendingInvalidations: pendingInvalidations.size },
        keysScanLimitReached: limitReached,
      };
    },

    /**
     * Resolves true once the cache's client is connected (false after timeoutMs): for start-up and
     * tests. A cluster client is "ready" once it knows the slots, but connects to each node on its
     * first command: those connections are opened here too, so the first reads do not pay for them.
     */
    async whenReady(timeoutMs = 2000): Promise<boolean> {
      const connected =
        redis.status === "ready" ||
        (await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            redis.off("ready", onReady);
            resolve(false);
          }, timeoutMs);
          const onReady = () => {
            clearTimeout(timer);
            resolve(true);
          };
          redis.once("ready", onReady);
        }));
      if (connected && isCluster(redis)) await Promise.all(redis.nodes("master").map((node) => node.ping().catch(() => null)));
      return connected;
    },

    /** Counted Redis failures of this process (for tests and metrics). */
    get errorCount() {
      return errors.total;
    },

    get pendingInvalidationCount() {
      return pendingInvalidations.size;
    },

    /** Flush counters and stop timers; the Redis clients belong to the caller. */
    async close(): Promise<void> {
      if (statsTimer) clearInterval(statsTimer);
      if (retryTimer) clearTimeout(retryTimer);
      await flushCounters();
      closed = true;
    },
  };
}

function roundMs(c: PrefixCounters): PrefixCounters {
  return { ...c, loadMs: Math.round(c.loadMs), savedMs: Math.round(c.savedMs) };
}

export type QueryCache = ReturnType<typeof createQueryCache>;
