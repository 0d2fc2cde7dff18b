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
import { SESSION_COOKIE, type SessionUser } from "~/server/auth/session";
import type { SignInThrottleOptions } from "~/server/auth/sign-in-throttle";
import { hashPassword } from "~/server/auth/passwords";
import { composeServices } from "~/server/composition";
import type { AppServices } from "~/server/services";
import type { IdempotencyOptions } from "~/server/reliability/idempotency/options";
import { bullmqConnection, queuePrefix, redisTargetFrom, scanKeys, unlinkKeys, type RedisClient, type RedisTarget } from "~/server/platform/redis";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { createTestDatabase } from "./database";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * The Redis the tests share: TEST_REDIS_URL, or the Redis Cluster named by REDIS_CLUSTER_NODES
 * (`npm run test:redis-cluster` sets it and runs the same test files against a local cluster).
 */
export function testRedisTarget(): RedisTarget {
  return redisTargetFrom({ REDIS_URL: TEST_REDIS_URL, REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES });
}

/** Delete every key under these prefixes (SCAN batches, on every node of a cluster). */
export async function deleteKeysUnder(redis: RedisClient, prefixes: Iterable<string>): Promise<void> {
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
    /** How long this app's queries and transactions wait for a pooled connection (default: the app's 10 s). */
    poolConnectionTimeoutMs?: number;
    /** Idempotency tunables of this app (default: the app's). */
    idempotency?: Partial<IdempotencyOptions>;
  } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  // The test Redis, or the cluster of `npm run test:redis-cluster`; a private Redis when a test names one.
  const redisTarget: RedisTarget = opts.redisUrl ? { url: opts.redisUrl } : testRedisTarget();
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-storage-"));
  const cacheRedisTarget: RedisTarget | null =
    opts.cacheRedisUrl === undefined ? testRedisTarget() : opts.cacheRedisUrl ? { url: opts.cacheRedisUrl } : null;
  // The app's own composition (src/server/composition.ts), pointed at this test's database, Redis
  // prefix and storage folder.
  const composed = composeServices({
    // The app's queries go through the pooler when the suite has one (DATABASE_URL); what needs a
    // session (LISTEN, the saga runner's prepared statements) gets `databaseUrl` (DIRECT_DATABASE_URL).
    databaseUrl: database.pooledUrl,
    databaseSessionCapable: database.pooledUrl === database.url,
    poolMax: opts.poolMax ?? 20,
    poolConnectionTimeoutMs: opts.poolConnectionTimeoutMs,
    redisTarget,
    redisMaxRetriesPerRequest: 1, // the web app's: one retry, then a command fails
    storageDir,
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    queuePrefix: prefix,
    sessions: { secret: "test-secret-test-secret-test-secret-0123", ttlSeconds: 3600, secureCookie: false },
    signInThrottle: opts.signInThrottle,
    // The timeout is patient by default so a busy test machine does not turn hits into fail-open misses.
    cache: cacheRedisTarget ? { redisTarget: cacheRedisTarget, commandTimeoutMs: opts.cacheCommandTimeoutMs ?? 1000 } : null,
    config: {
      maxUploadBytes: opts.maxUploadBytes ?? 1024 * 1024,
      appOrigin: opts.appOrigin,
      trustProxy: opts.trustProxy,
      maxJsonBodyBytes: opts.maxJsonBodyBytes,
      ...(opts.idempotency ? { idempotency: opts.idempotency } : {}),
    },
  });
  const { services } = composed;
  const { db, redis, sessions } = services;
  redis.on("error", () => {}); // a test that stops Redis expects the connection errors
  await services.cache?.whenReady();
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
      // Remove every key of this test's prefixes (queues and cache; every node of a cluster), then close.
      await services.cache?.close();
      const bullPrefix = queuePrefix(prefix, redisTarget);
      await deleteKeysUnder(redis, [prefix, bullPrefix, ...Object.values(QueueName).map((queue) => queueKeyPrefix(bullPrefix, queue))]);
      await composed.close();
      await rm(storageDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

export { appRouter };
