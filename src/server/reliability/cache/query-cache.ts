import { isCluster, type RedisClient } from "~/server/platform/redis";
import type { PreSerialized } from "../../platform/transformer";
import type { CacheLogger } from "./error-gate";
import { createInvalidation } from "./invalidation";
import { keyspace } from "./keys";
import { createCacheOperations } from "./operations";
import { createCacheQueries } from "./queries";
import { createReadPath, type CacheReadSpec } from "./read-path";
import { createRedisGuard } from "./redis-guard";
import { createStatsFlusher } from "./stats-flusher";

export type { CacheReadSpec } from "./read-path";
export type { CacheStatsReport } from "./queries";

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
 *
 * This module only composes the parts, each with one job: redis-guard.ts (is Redis usable, command
 * deadline, failure reporting), read-path.ts (hit, miss, lock, refresh, bypass), invalidation.ts
 * (tag tokens, retries of refused invalidations), stats-flusher.ts (counters), and what operators
 * see (queries.ts: counters and SCAN-based key counts) and do (operations.ts: prefix and tag flushes).
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

export function createQueryCache(options: QueryCacheOptions) {
  const { redis, logger } = options;
  const ks = keyspace(options.appPrefix);
  const tagTtlSeconds = options.tagTtlSeconds ?? 24 * 3600;
  const guard = createRedisGuard({
    redis,
    logger,
    commandTimeoutMs: options.commandTimeoutMs ?? 20,
    breakerMs: options.breakerMs ?? 500,
    errorLogIntervalMs: options.errorLogIntervalMs ?? 10_000,
    now: options.now ?? Date.now,
  });
  const invalidation = createInvalidation({ guard, ks, logger, tagTtlSeconds });
  redis.on("ready", () => {
    guard.closeBreaker();
    void invalidation.flushPending();
  });
  const stats = createStatsFlusher({ guard, ks, flushMs: options.statsFlushMs ?? 2000 });
  const read = createReadPath({ guard, invalidation, stats, ks, logger, lockTtlMs: options.lockTtlMs ?? 3000, tagTtlSeconds });
  const adminRedis = options.adminRedis ?? redis;
  const queries = createCacheQueries({ adminRedis, guard, invalidation, stats, ks });
  const operations = createCacheOperations({ adminRedis, invalidation, ks });

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
    invalidate: (tags: ReadonlyArray<string>): Promise<{ ok: boolean }> => invalidation.invalidate(tags),

    /** Drop every entry of a prefix (operations.ts). */
    flushPrefix: operations.flushPrefix,

    /** Invalidate one tag on operator request. */
    flushTag: operations.flushTag,

    /** Counters of every process (flushed to Redis) plus this process's unflushed ones, and keys per prefix. */
    stats: queries.report,

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
      return guard.errors.total;
    },

    get pendingInvalidationCount() {
      return invalidation.pendingCount;
    },

    /** Flush counters and stop timers; the Redis clients belong to the caller. */
    async close(): Promise<void> {
      stats.stop();
      invalidation.stop();
      await stats.flush();
      guard.markClosed();
    },
  };
}

export type QueryCache = ReturnType<typeof createQueryCache>;
