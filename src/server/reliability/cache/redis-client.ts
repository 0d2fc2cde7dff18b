import type { RedisOptions } from "ioredis";
import { createRedisClient, type RedisClient, type RedisTarget } from "~/server/platform/redis";

export interface CacheRedisOptions {
  /**
   * ioredis' own command timeout: a backstop that clears commands a hung Redis never answers. The
   * few-ms deadline a request waits is QueryCacheOptions.commandTimeoutMs (see deadline.ts).
   */
  backstopTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * The cache's own ioredis client, tuned to fail fast instead of ioredis' defaults (which queue
 * commands while disconnected and retry each one up to 20 times, so a request can hang for seconds):
 * no offline queue (a command while disconnected fails at once), no per-command retries, a command
 * timeout as a backstop. It keeps reconnecting in the background so the cache comes back by itself.
 */
export function cacheRedisOptions(options: CacheRedisOptions = {}): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.backstopTimeoutMs ?? 1000,
    connectTimeout: options.connectTimeoutMs ?? 1000,
    // Reconnect forever, backing off to 1 s; reads bypass the cache meanwhile.
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
    enableReadyCheck: true,
    lazyConnect: false,
  };
}

/** On a cluster the same settings apply to every node connection; the offline queue and reconnects to the cluster client. */
export function createCacheRedis(target: RedisTarget | string, options: CacheRedisOptions = {}): RedisClient {
  return createRedisClient(target, cacheRedisOptions(options));
}
