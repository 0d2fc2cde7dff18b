/**
 * A real MetaStore for one test file: its own PostgreSQL database (from the migrated template),
 * its own Redis key/queue prefix, its own storage folder. Nothing is mocked.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
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
import { bullmqConnection, redisConnectionOptions } from "~/server/platform/redis";
import { createTestDatabase } from "./database";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestApp {
  services: AppServices;
  databaseUrl: string;
  storageDir: string;
  prefix: string;
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
  const db = createDb(database.url, { max: opts.poolMax ?? 20 });
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const redisUrl = opts.redisUrl ?? TEST_REDIS_URL;
  // The app's own settings (src/server/platform/redis.ts): one retry, then a command fails.
  const redis = new Redis(redisConnectionOptions(redisUrl, { maxRetriesPerRequest: 1 }));
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
  const cacheRedisUrl = opts.cacheRedisUrl === undefined ? TEST_REDIS_URL : opts.cacheRedisUrl;
  const cacheRedis = cacheRedisUrl ? createCacheRedis(redisConnectionOptions(cacheRedisUrl)) : null;
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
    storageDir,
    prefix,
    bullConnection: bullmqConnection(redisUrl),
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
      // Remove every key of this test's prefix (queues and cache), in SCAN batches.
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
      await redis.quit();
      await rm(storageDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

export { appRouter };
