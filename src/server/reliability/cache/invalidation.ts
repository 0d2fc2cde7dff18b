import type { CacheLogger } from "./error-gate";
import { tagKey, type Keyspace } from "./keys";
import type { RedisGuard } from "./redis-guard";
import { newToken } from "./token";

export interface InvalidationOptions {
  guard: RedisGuard;
  ks: Keyspace;
  logger: CacheLogger;
  /** Lifetime of tag tokens (s). Expiry is safe (entries under the tag just miss), so this only bounds memory. */
  tagTtlSeconds: number;
  /** Delay before retrying invalidations Redis refused (ms). */
  retryMs?: number;
}

/**
 * Invalidation by tag: replacing a tag's version token makes every entry built under the old one
 * a miss (O(1), no sets to walk, never KEYS). An invalidation Redis could not take is kept here and
 * retried (on a timer and when the connection comes back); meanwhile reads touching its tags bypass
 * the cache, so a write is never followed by its pre-write answer from this process.
 */
export function createInvalidation(options: InvalidationOptions) {
  const { guard, ks, logger, tagTtlSeconds } = options;
  const retryMs = options.retryMs ?? 250;
  /** Tags whose invalidation has not reached Redis yet: reads touching them bypass the cache. */
  const pending = new Set<string>();
  let retryTimer: NodeJS.Timeout | null = null;
  /** Bumped by every local invalidation: in-process loads started before one are not joined after it. */
  let localEpoch = 0;

  async function writeTagTokens(tags: string[]): Promise<boolean> {
    if (!guard.connected()) {
      guard.reportDisconnected("invalidate");
      return false;
    }
    const token = newToken();
    try {
      const pipeline = guard.redis.pipeline();
      for (const tag of tags) pipeline.set(tagKey(ks, tag), token, "EX", tagTtlSeconds);
      const results = (await guard.timely(pipeline.exec())) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw failed[0];
      return true;
    } catch (error) {
      guard.fail(error, "invalidate");
      return false;
    }
  }

  function scheduleRetry() {
    if (retryTimer || guard.closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void flushPending();
    }, retryMs);
    retryTimer.unref();
  }

  async function flushPending(): Promise<boolean> {
    if (pending.size === 0) return true;
    const tags = [...pending];
    const ok = await writeTagTokens(tags);
    if (ok) {
      for (const tag of tags) pending.delete(tag);
      logger.warn({ tags: tags.length }, "query cache: invalidations delayed by a Redis outage have now been applied");
    } else scheduleRetry();
    return ok;
  }

  return {
    /**
     * Replace the tokens of these tags. Never throws: if Redis cannot be reached the tags are kept
     * and retried, and `ok: false` tells a caller that must be sure (the outbox consumer) to retry itself.
     */
    async invalidate(tags: ReadonlyArray<string>): Promise<{ ok: boolean }> {
      const unique = [...new Set(tags)].filter((t) => t.length > 0);
      if (unique.length === 0) return { ok: true };
      localEpoch += 1;
      if (await writeTagTokens(unique)) return { ok: true };
      for (const tag of unique) pending.add(tag);
      scheduleRetry();
      return { ok: false };
    },

    /** Retry what is pending now (the connection came back). */
    flushPending,

    /** Whether a read of these tags must bypass the cache (one of them has an invalidation pending). */
    touchesPending(tags: ReadonlyArray<string>): boolean {
      return pending.size > 0 && tags.some((t) => pending.has(t));
    },

    /** Changes with every local invalidation: part of the in-process single-flight key. */
    get epoch(): number {
      return localEpoch;
    },

    get pendingCount(): number {
      return pending.size;
    },

    stop(): void {
      if (retryTimer) clearTimeout(retryTimer);
    },
  };
}

export type Invalidation = ReturnType<typeof createInvalidation>;
