/**
 * A real MetaStore for one test file: its own PostgreSQL database (from the migrated template),
 * its own Redis key/queue prefix, its own storage folder. Nothing is mocked.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { appRouter, createCaller } from "~/server/api/root";
import { createInnerContext } from "~/server/api/trpc";
import { createTrpcHttpHandler } from "~/server/api/http-handler";
import { createSessionManager, SESSION_COOKIE, type SessionUser } from "~/server/auth/session";
import { createSignInThrottle, type SignInThrottleOptions } from "~/server/auth/sign-in-throttle";
import { hashPassword } from "~/server/auth/passwords";
import { createDb } from "~/server/platform/db/client";
import { createCacheRedis, createQueryCache } from "~/server/reliability/cache";
import { createRequestMetrics } from "~/server/metrics/request-metrics";
import type { AppServices } from "~/server/services";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";
import { bullmqConnection, createRedisClient, queuePrefix, redisTargetFrom, scanKeys, unlinkKeys, type RedisTarget } from "~/server/platform/redis";
import { createTestDatabase } from "./database";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * The Redis the tests share: TEST_REDIS_URL, or the Redis Cluster named by REDIS_CLUSTER_NODES
 * (`npm run test:cluster` sets it and runs the same test files against a local cluster).
 */
export function testRedisTarget(): RedisTarget {
  return redisTargetFrom({ REDIS_URL: TEST_REDIS_URL, REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES });
}

/** Delete every key under these prefixes (SCAN batches, on every node of a cluster). */
export async function deleteKeysUnder(redis: ReturnType<typeof createRedisClient>, prefixes: Iterable<string>): Promise<void> {
  for (const prefix of new Set(prefixes)) {
    for await (const keys of scanKeys(redis, `${prefix}:*`)) await unlinkKeys(redis, keys);
  }
}

export interface TestApp {
  services: AppServices;
  /** A direct (session) connection URL of this test's database: DIRECT_DATABASE_URL's role. */
  databaseUrl: string;
  /** The URL the app's own pool uses: through the pooler under `npm run test:pgbouncer`, else databaseUrl. */
  pooledDatabaseUrl: string;
  storageDir: string;
  /** The app's Redis key prefix (config.queuePrefix): cache, counters, channels. */
  prefix: string;
  /** BullMQ's prefix: `prefix`, or `{prefix}` on a cluster (see queuePrefix in ~/server/redis). */
  queuePrefix: string;
  redisTarget: RedisTarget;
  bullConnection: ReturnType<typeof bullmqConnection>;
  /** A tRPC caller acting as this user (null: signed out). */
  caller(user: SessionUser | null): ReturnType<typeof createCaller>;
  /** Send a Request through the real tRPC fetch handler (the same one Next.js serves). */
  http(path: string, init?: RequestInit & { user?: SessionUser }): Promise<Response>;
  createUser(opts?: { role?: SessionUser["role"]; email?: string; password?: string; quotaBytes?: bigint }): Promise<SessionUser>;
  close(): Promise<void>;
}

export async function createTestApp(
  opts: {
    maxUploadBytes?: number;
    /** Redis of the query cache (default: the test Redis); null: no cache. */
    cacheRedisUrl?: string | null;
    cacheCommandTimeoutMs?: number;
    /** The app's Redis (queues, counters; default: the test Redis), e.g. a private one a test stops. */
    redisUrl?: string;
    /** Size of the PostgreSQL pool (default 20: more room than the app's, for tests that read beside it). */
    poolMax?: number;
    /** Sign-in throttle limits (defaults: the app's); `redis` points it at another Redis (e.g. one a test stops). */
    signInThrottle?: Partial<Pick<SignInThrottleOptions, "maxFailuresPerAccount" | "maxFailuresPerAddress" | "windowSeconds" | "redis">>;
    /** APP_ORIGIN, TRUST_PROXY, MAX_JSON_BODY_BYTES of this app. */
    appOrigin?: string;
    trustProxy?: number;
    maxJsonBodyBytes?: number;
    logger?: AppServices["logger"];
  } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  // The app's queries go through the pooler when the suite has one (DATABASE_URL); what needs a
  // session (LISTEN, the saga runner's prepared statements) gets `databaseUrl` (DIRECT_DATABASE_URL).
  const db = createDb(database.pooledUrl, { max: opts.poolMax ?? 20 });
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const redisTarget: RedisTarget = opts.redisUrl ? { url: opts.redisUrl } : testRedisTarget();
  // The app's own settings (src/server/platform/redis.ts): one retry, then a command fails.
  const redis = createRedisClient(redisTarget, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {}); // a test that stops Redis expects the connection errors
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-storage-"));
  const sessions = createSessionManager(db, { secret: "test-secret-test-secret-test-secret-0123", ttlSeconds: 3600, secureCookie: false });
  const logger = opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const services: AppServices = {
    db,
    redis,
    storage: new LocalDiskStorage(storageDir),
    sessions,
    signInThrottle: createSignInThrottle({ redis, prefix, logger, ...opts.signInThrottle }),
    logger,
    // As the app composes it: requests are timed, /api/metrics serves the histograms.
    requestMetrics: createRequestMetrics(),
    config: {
      maxUploadBytes: opts.maxUploadBytes ?? 1024 * 1024,
      queuePrefix: prefix,
      appOrigin: opts.appOrigin,
      trustProxy: opts.trustProxy,
      maxJsonBodyBytes: opts.maxJsonBodyBytes,
    },
  };
  // The query cache on its own fail-fast client, under this test's prefix (like the app's). The
  // timeout is patient by default so a busy test machine does not turn hits into fail-open misses.
  const cacheRedisTarget = opts.cacheRedisUrl === undefined ? testRedisTarget() : opts.cacheRedisUrl;
  const cacheRedis = cacheRedisTarget ? createCacheRedis(cacheRedisTarget) : null;
  if (cacheRedis) {
    services.cache = createQueryCache({
      redis: cacheRedis,
      commandTimeoutMs: opts.cacheCommandTimeoutMs ?? 1000,
      appPrefix: prefix,
      logger: services.logger,
    });
    await services.cache.whenReady();
  }
  const handler = createTrpcHttpHandler(services);
  const sealedFor = new Map<string, string>();

  return {
    services,
    databaseUrl: database.url,
    pooledDatabaseUrl: database.pooledUrl,
    storageDir,
    prefix,
    queuePrefix: queuePrefix(prefix, redisTarget),
    redisTarget,
    bullConnection: bullmqConnection(redisTarget),
    caller: (user) => createCaller(createInnerContext(services, user)),
    async http(urlPath, init = {}) {
      const headers = new Headers(init.headers);
      if (init.user) {
        let sealed = sealedFor.get(init.user.id);
        if (!sealed) {
          const row = await db.user.findUniqueOrThrow({ where: { id: init.user.id }, select: { id: true, sessionVersion: true } });
          sealed = await sessions.seal(row);
          sealedFor.set(init.user.id, sealed);
        }
        headers.set("cookie", `${SESSION_COOKIE}=${sealed}`);
      }
      return handler(new Request(`http://localhost${urlPath}`, { ...init, headers }));
    },
    async createUser(o = {}) {
      const email = o.email ?? `user-${randomUUID().slice(0, 8)}@test.local`;
      const user = await db.user.create({
        data: {
          email,
          name: email.split("@")[0]!,
          passwordHash: await hashPassword(o.password ?? "password-123"),
          role: o.role ?? "user",
          ...(o.quotaBytes !== undefined ? { quotaBytes: o.quotaBytes } : {}),
        },
        select: { id: true, email: true, name: true, role: true },
      });
      return user;
    },
    async close() {
      await services.cache?.close();
      cacheRedis?.disconnect();
      await db.$disconnect();
      // Remove every key of this test's prefixes (queues and cache), in SCAN batches.
      await deleteKeysUnder(redis, [prefix, queuePrefix(prefix, redisTarget)]);
      await redis.quit();
      await rm(storageDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

export { appRouter };
