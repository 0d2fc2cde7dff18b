import { getEnv, type ServerEnv } from "~/env.js";
import { createSessionManager } from "./auth/session";
import { createSessionCache } from "./auth/session-cache";
import { createSignInThrottle, type SignInThrottleOptions } from "./auth/sign-in-throttle";
import { createDb } from "./platform/db/client";
import { createLogger, type Logger } from "./platform/logger";
import { createRedisClient, redisTargetFrom, type RedisTarget } from "./platform/redis";
import { createRequestMetrics } from "./metrics/request-metrics";
import { LocalDiskStorage } from "./platform/storage/local-disk-storage";
import { createCacheRedis, createQueryCache } from "./reliability/cache";
import { createDomainServices } from "./domain-services";
import type { AppInfrastructure, AppServices } from "./services";

/**
 * The one composition root: every process (the web app, the worker, each test file's app) builds
 * its services here, once, from explicit settings. Only the settings differ between processes
 * (settingsFromEnv for the web and the worker; test/support/app.ts for tests).
 */
export interface ServiceSettings {
  databaseUrl: string;
  /**
   * databaseUrl is a PostgreSQL session (no transaction pooler in front: DIRECT_DATABASE_URL unset),
   * so statements may be prepared on it (the idempotency claim's side pool does).
   */
  databaseSessionCapable?: boolean;
  /** PostgreSQL pool size (default: the client's). */
  poolMax?: number;
  /** How long a query or a transaction waits for a pooled connection (default: POOL_CONNECTION_TIMEOUT_MS). */
  poolConnectionTimeoutMs?: number;
  /** One Redis or a Redis Cluster: every client built here goes through createRedisClient. */
  redisTarget: RedisTarget;
  /** Retries of one command of the app's Redis client before it fails (the web: 1, the worker: 3). */
  redisMaxRetriesPerRequest: number;
  storageDir: string;
  logger: Logger;
  queuePrefix: string;
  sessions: {
    secret: string;
    ttlSeconds: number;
    secureCookie: boolean;
    /** > 0: resolved sessions are reused while the Redis invalidation channel is live (auth/session-cache.ts). */
    cacheTtlMs?: number;
  };
  /** Sign-in throttle limits (defaults: the throttle's own); `redis` points it at another Redis. */
  signInThrottle?: Partial<Omit<SignInThrottleOptions, "prefix" | "logger">>;
  /** The query cache on its own fail-fast client; null: no cache. */
  cache: { redisTarget: RedisTarget; commandTimeoutMs: number } | null;
  config: Omit<AppInfrastructure["config"], "queuePrefix">;
}

export interface ComposedServices {
  services: AppServices;
  /** Closes what was built, users first: query cache, session cache, then Redis and PostgreSQL. */
  close(): Promise<void>;
}

export function composeServices(settings: ServiceSettings): ComposedServices {
  const { logger, queuePrefix } = settings;
  const db = createDb(settings.databaseUrl, {
    ...(settings.poolMax ? { max: settings.poolMax } : {}),
    ...(settings.poolConnectionTimeoutMs ? { connectionTimeoutMs: settings.poolConnectionTimeoutMs } : {}),
    sessionCapable: settings.databaseSessionCapable ?? false,
  });
  const redis = createRedisClient(settings.redisTarget, { maxRetriesPerRequest: settings.redisMaxRetriesPerRequest });
  // Sessions resolved once per user and version, reused while the Redis invalidation channel is
  // live (its own subscriber connection); PostgreSQL on every request otherwise.
  const sessionCache =
    (settings.sessions.cacheTtlMs ?? 0) > 0
      ? createSessionCache({
          subscriber: createRedisClient(settings.redisTarget, { maxRetriesPerRequest: 1 }),
          publisher: redis,
          channel: `${queuePrefix}:sessions:changed`,
          ttlMs: settings.sessions.cacheTtlMs,
          logger,
        })
      : undefined;
  const { cacheTtlMs: _ttl, ...sessionConfig } = settings.sessions;
  const infra: AppInfrastructure = {
    db,
    redis,
    storage: new LocalDiskStorage(settings.storageDir),
    sessions: createSessionManager(db, sessionConfig, sessionCache),
    signInThrottle: createSignInThrottle({ redis, prefix: queuePrefix, logger, ...settings.signInThrottle }),
    logger,
    // Request duration histograms of this process (the web's /api/metrics serves them).
    requestMetrics: createRequestMetrics(),
    config: { ...settings.config, queuePrefix },
  };
  // Its own fail-fast client: a slow or absent Redis must cost a query a few ms, not a hang. Operator
  // actions (SCAN flush, key counts) use the patient app client when it is the same Redis.
  const cacheRedis = settings.cache ? createCacheRedis(settings.cache.redisTarget) : null;
  if (settings.cache && cacheRedis) {
    infra.cache = createQueryCache({
      redis: cacheRedis,
      commandTimeoutMs: settings.cache.commandTimeoutMs,
      adminRedis: sameRedis(settings.cache.redisTarget, settings.redisTarget) ? redis : undefined,
      appPrefix: queuePrefix,
      logger,
    });
  }
  const services = withDomainServices(infra);
  return {
    services,
    async close() {
      await services.cache?.close();
      cacheRedis?.disconnect();
      await services.sessions.close();
      await redis.quit().catch(() => redis.disconnect());
      await db.$disconnect();
    },
  };
}

/**
 * The domain services over this infrastructure, built once (composeServices). A test that stands
 * in for another process over the same database (its own session cache, say) composes its own.
 */
export function withDomainServices(infra: AppInfrastructure): AppServices {
  return { ...infra, ...createDomainServices(infra) };
}

/** Whether two targets name the same Redis (or the same cluster, by its seed nodes). */
function sameRedis(a: RedisTarget, b: RedisTarget): boolean {
  const nodes = (t: RedisTarget) => (t.clusterNodes ?? []).map((n) => `${n.host}:${n.port}`).join(",");
  return a.url === b.url && nodes(a) === nodes(b);
}

/** The settings of a process from the parsed environment (the web app and the worker). */
export function settingsFromEnv(env: ServerEnv, processName: "web" | "worker"): ServiceSettings {
  const redisTarget = redisTargetFrom(env);
  return {
    databaseUrl: env.DATABASE_URL,
    // DIRECT_DATABASE_URL is set exactly when DATABASE_URL goes through a transaction pooler (.env.example).
    databaseSessionCapable: !env.DIRECT_DATABASE_URL || env.DIRECT_DATABASE_URL === env.DATABASE_URL,
    redisTarget,
    // The worker rides out short Redis blips on its long-lived jobs; a request should fail fast.
    redisMaxRetriesPerRequest: processName === "worker" ? 3 : 1,
    storageDir: env.STORAGE_DIR,
    logger: createLogger(processName, env.LOG_LEVEL),
    queuePrefix: env.QUEUE_PREFIX,
    sessions: {
      secret: env.SESSION_SECRET,
      ttlSeconds: env.SESSION_TTL_HOURS * 3600,
      secureCookie: env.COOKIE_SECURE ?? env.NODE_ENV === "production",
      // The worker resolves no sessions: no subscriber connection for it.
      cacheTtlMs: processName === "web" ? env.SESSION_CACHE_TTL_MS : 0,
    },
    signInThrottle: {
      maxFailuresPerAccount: env.SIGNIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: env.SIGNIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: env.SIGNIN_THROTTLE_MINUTES * 60,
    },
    cache: env.CACHE_ENABLED ? { redisTarget, commandTimeoutMs: env.CACHE_COMMAND_TIMEOUT_MS } : null,
    config: {
      maxUploadBytes: env.MAX_UPLOAD_BYTES,
      maxJsonBodyBytes: env.MAX_JSON_BODY_BYTES,
      appOrigin: env.APP_ORIGIN,
      trustProxy: env.TRUST_PROXY,
      outboxStalledAfterMs: env.OUTBOX_STALLED_AFTER_MS,
      idempotency: {
        ttlMs: env.IDEMPOTENCY_TTL_HOURS * 3600_000,
        leaseMs: env.IDEMPOTENCY_LEASE_SECONDS * 1000,
        transactionTimeoutMs: env.IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS * 1000,
      },
    },
  };
}

const globalForServices = globalThis as unknown as { metastoreServices?: AppServices };

/** The web process's services, from the parsed environment (kept across hot reloads). */
export function getAppServices(): AppServices {
  globalForServices.metastoreServices ??= composeServices(settingsFromEnv(getEnv(), "web")).services;
  return globalForServices.metastoreServices;
}
