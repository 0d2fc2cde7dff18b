import { scanKeys, unlinkKeys, type RedisClient } from "~/server/platform/redis";
import { assertCachePrefix, entryPattern, prefixTag, type Keyspace } from "./keys";
import type { Invalidation } from "./invalidation";

/**
 * What an operator does to the cache: flush a prefix or a tag. The SCAN-based walks, never KEYS
 * (which blocks Redis), run on the admin client. What an operator sees is in queries.ts.
 */
export interface CacheOperationsOptions {
  /** A patient client: SCAN walks may take far longer than a hot-path command's deadline. */
  adminRedis: RedisClient;
  invalidation: Invalidation;
  ks: Keyspace;
}

export function createCacheOperations({ adminRedis, invalidation, ks }: CacheOperationsOptions) {
  /** UNLINK the entry keys of a prefix in batches; returns how many went. */
  async function deleteEntries(prefix: string, batch: number): Promise<number> {
    let deleted = 0;
    for await (const keys of scanKeys(adminRedis, entryPattern(ks, prefix), batch)) deleted += await unlinkKeys(adminRedis, keys);
    return deleted;
  }

  return {
    /**
     * Drop every entry of a prefix: first its tag (instant, and race-free against loads in flight),
     * then the keys themselves with SCAN + UNLINK in batches.
     */
    async flushPrefix(prefix: string, batch = 1000): Promise<{ deleted: number }> {
      assertCachePrefix(prefix);
      const { ok } = await invalidation.invalidate([prefixTag(prefix)]);
      if (!ok) throw new Error("Redis is unreachable: the prefix could not be flushed (its entries expire with their TTL)");
      return { deleted: await deleteEntries(prefix, batch) };
    },

    /** Invalidate one tag on operator request. */
    flushTag: (tag: string): Promise<{ ok: boolean }> => invalidation.invalidate([tag]),
  };
}

export type CacheOperations = ReturnType<typeof createCacheOperations>;
