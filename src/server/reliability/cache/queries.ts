import { scanKeys, type RedisClient } from "~/server/platform/redis";
import { entryPattern, prefixOfEntryKey, statsKey, type Keyspace } from "./keys";
import type { RedisGuard } from "./redis-guard";
import type { Invalidation } from "./invalidation";
import { COUNTER_FIELDS, emptyCounters, hitRate, parseStatsHash, type PrefixCounters, type PrefixStats } from "./stats";
import type { StatsFlusher } from "./stats-flusher";

export interface CacheStatsReport {
  prefixes: Array<{ prefix: string } & PrefixStats>;
  totals: PrefixStats;
  /** Redis failures counted by this process (each process counts its own). */
  errors: { thisProcess: number; last: { message: string; at: Date } | null };
  redis: { status: string; breakerOpen: boolean; pendingInvalidations: number };
  keysScanLimitReached: boolean;
}

/** Bounds of the "keys per prefix" count: it walks the whole Redis keyspace (shared with BullMQ). */
const MAX_KEYS_COUNTED = 1_000_000;
const MAX_SCAN_CALLS = 5_000;

export interface CacheQueriesOptions {
  /** A patient client: SCAN walks may take far longer than a hot-path command's deadline. */
  adminRedis: RedisClient;
  guard: RedisGuard;
  invalidation: Invalidation;
  stats: StatsFlusher;
  ks: Keyspace;
}

/**
 * What an operator sees of the cache (the dashboard's counters and key counts): the key count is a
 * SCAN walk, never KEYS (which blocks Redis), on the admin client. What an operator does is in
 * operations.ts.
 */
export function createCacheQueries(options: CacheQueriesOptions) {
  const { adminRedis, guard, invalidation, stats, ks } = options;

  return {
    /** Counters of every process (flushed to Redis) plus this process's unflushed ones, and keys per prefix. */
    async report(): Promise<CacheStatsReport> {
      await stats.flush();
      const flushed = parseStatsHash(await adminRedis.hgetall(statsKey(ks)));
      for (const [prefix, c] of stats.unflushed()) {
        const into = flushed.get(prefix) ?? emptyCounters();
        for (const f of COUNTER_FIELDS) into[f] += c[f];
        flushed.set(prefix, into);
      }
      const { keysPerPrefix, limitReached } = await countKeysPerPrefix();
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
        errors: { thisProcess: guard.errors.total, last: guard.errors.lastError },
        redis: { status: guard.redis.status, breakerOpen: guard.breakerOpen, pendingInvalidations: invalidation.pendingCount },
        keysScanLimitReached: limitReached,
      };
    },
  };

  async function countKeysPerPrefix(): Promise<{ keysPerPrefix: Map<string, number>; limitReached: boolean }> {
    const keysPerPrefix = new Map<string, number>();
    // SCAN may return a key more than once (its hash table shrinking or rehashing while other
    // clients write and delete: a busy shared Redis): each key counts once. Bounded like the walk.
    const seen = new Set<string>();
    let calls = 0;
    for await (const keys of scanKeys(adminRedis, entryPattern(ks), 1000)) {
      calls += 1;
      for (const key of keys) {
        if (seen.has(key)) continue;
        seen.add(key);
        const prefix = prefixOfEntryKey(ks, key);
        if (prefix) keysPerPrefix.set(prefix, (keysPerPrefix.get(prefix) ?? 0) + 1);
      }
      if (seen.size >= MAX_KEYS_COUNTED || calls >= MAX_SCAN_CALLS) return { keysPerPrefix, limitReached: true };
    }
    return { keysPerPrefix, limitReached: false };
  }
}

function roundMs(c: PrefixCounters): PrefixCounters {
  return { ...c, loadMs: Math.round(c.loadMs), savedMs: Math.round(c.savedMs) };
}

export type CacheQueries = ReturnType<typeof createCacheQueries>;
