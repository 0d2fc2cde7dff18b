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
import { bullmqConnection } from "~/server/platform/redis";
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
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const redisUrl = opts.redisUrl ?? TEST_REDIS_URL;
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-storage-"));
  const cacheRedisUrl = opts.cacheRedisUrl === undefined ? TEST_REDIS_URL : opts.cacheRedisUrl;
  // The app's own composition (src/server/composition.ts), pointed at this test's database, Redis
  // prefix and storage folder.
  const composed = composeServices({
    databaseUrl: database.url,
    poolMax: opts.poolMax ?? 20,
    redisUrl,
    redisMaxRetriesPerRequest: 1, // the web app's: one retry, then a command fails
    storageDir,
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    queuePrefix: prefix,
    sessions: { secret: "test-secret-test-secret-test-secret-0123", ttlSeconds: 3600, secureCookie: false },
    signInThrottle: opts.signInThrottle,
    // The timeout is patient by default so a busy test machine does not turn hits into fail-open misses.
    cache: cacheRedisUrl ? { redisUrl: cacheRedisUrl, commandTimeoutMs: opts.cacheCommandTimeoutMs ?? 1000 } : null,
    config: {
      maxUploadBytes: opts.maxUploadBytes ?? 1024 * 1024,
      appOrigin: opts.appOrigin,
      trustProxy: opts.trustProxy,
      maxJsonBodyBytes: opts.maxJsonBodyBytes,
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
      // Remove every key of this test's prefix (queues and cache), in SCAN batches, then close.
      await services.cache?.close();
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
      await composed.close();
      await rm(storageDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

export { appRouter };
