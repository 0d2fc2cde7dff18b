import { getEnv } from "~/env.js";
import { createSessionManager } from "./auth/session";
import { createSignInThrottle } from "./auth/sign-in-throttle";
import { createSessionCache } from "./auth/session-cache";
import { Redis } from "ioredis";
import { getDb } from "./platform/db/process-db";
import { createCacheRedis, createQueryCache } from "./reliability/cache";
import { createLogger } from "./platform/logger";
import { getRedis, redisConnectionOptions } from "./platform/redis";
import { createRequestMetrics } from "./metrics/request-metrics";
import type { AppServices } from "./services";
import { LocalDiskStorage } from "./platform/storage/local-disk-storage";

const globalForServices = globalThis as unknown as { metastoreServices?: AppServices };

/** The services of this process, from the parsed environment (kept across hot reloads). */
export function getAppServices(): AppServices {
  if (globalForServices.metastoreServices) return globalForServices.metastoreServices;
  const env = getEnv();
  const db = getDb();
  const logger = createLogger("web", env.LOG_LEVEL);
  const redis = getRedis();
  // Sessions resolved once per user and version, reused while the Redis invalidation channel is
  // live (its own subscriber connection); PostgreSQL on every request otherwise.
  const sessionCache =
    env.SESSION_CACHE_TTL_MS > 0
      ? createSessionCache({
          subscriber: new Redis(redisConnectionOptions(env.REDIS_URL, { maxRetriesPerRequest: 1 })),
          publisher: redis,
          channel: `${env.QUEUE_PREFIX}:sessions:changed`,
          ttlMs: env.SESSION_CACHE_TTL_MS,
          logger,
        })
      : undefined;
  const services: AppServices = {
    db,
    redis,
    storage: new LocalDiskStorage(env.STORAGE_DIR),
    sessions: createSessionManager(db, {
      secret: env.SESSION_SECRET,
      ttlSeconds: env.SESSION_TTL_HOURS * 3600,
      secureCookie: env.COOKIE_SECURE ?? env.NODE_ENV === "production",
    }, sessionCache),
    signInThrottle: createSignInThrottle({
      redis,
      prefix: env.QUEUE_PREFIX,
      maxFailuresPerAccount: env.SIGNIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: env.SIGNIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: env.SIGNIN_THROTTLE_MINUTES * 60,
      logger,
    }),
    logger,
    requestMetrics: createRequestMetrics(),
    config: {
      maxUploadBytes: env.MAX_UPLOAD_BYTES,
      maxJsonBodyBytes: env.MAX_JSON_BODY_BYTES,
      appOrigin: env.APP_ORIGIN,
      trustProxy: env.TRUST_PROXY,
      queuePrefix: env.QUEUE_PREFIX,
      outboxStalledAfterMs: env.OUTBOX_STALLED_AFTER_MS,
      idempotency: {
        ttlMs: env.IDEMPOTENCY_TTL_HOURS * 3600_000,
        leaseMs: env.IDEMPOTENCY_LEASE_SECONDS * 1000,
        transactionTimeoutMs: env.IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS * 1000,
      },
    },
  };
  if (env.CACHE_ENABLED) {
    // Its own fail-fast client: a slow or absent Redis must cost a query a few ms, not a hang.
    services.cache = createQueryCache({
      redis: createCacheRedis(redisConnectionOptions(env.REDIS_URL)),
      commandTimeoutMs: env.CACHE_COMMAND_TIMEOUT_MS,
      adminRedis: services.redis,
      appPrefix: env.QUEUE_PREFIX,
      logger: services.logger,
    });
  }
  globalForServices.metastoreServices = services;
  return services;
}
