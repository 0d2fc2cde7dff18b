import { Redis, type RedisOptions } from "ioredis";
import { getEnv } from "~/env.js";

/** Connection options for BullMQ: it must own its connections (it does not close ones it is given). */
export function redisConnectionOptions(url: string, extra: RedisOptions = {}): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined,
    tls: parsed.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: null,
    ...extra,
  };
}

const globalForRedis = globalThis as unknown as { metastoreRedis?: Redis };

/** The process-wide ioredis client (cache, health checks). */
export function getRedis(): Redis {
  globalForRedis.metastoreRedis ??= new Redis(
    redisConnectionOptions(getEnv().REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: false }),
  );
  return globalForRedis.metastoreRedis;
}

/** BullMQ's own connection options (it creates and closes the connections itself). */
export function bullmqConnection(url: string): import("bullmq").RedisOptions {
  const { retryStrategy: _r, reconnectOnError: _e, ...options } = redisConnectionOptions(url);
  return options as import("bullmq").RedisOptions;
}
