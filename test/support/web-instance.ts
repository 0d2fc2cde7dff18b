/**
 * A second web "instance" over a test app's database: its own session cache (long TTL, so only
 * the Redis invalidation can end an entry) on a shared channel, and the real tRPC and download
 * handlers over it. Two of them show that a change applies at the next request everywhere.
 */
import { Redis } from "ioredis";
import { createDownloadHandler } from "~/server/api/download-handler";
import { createTrpcHttpHandler } from "~/server/api/http-handler";
import { createSessionManager, SESSION_COOKIE } from "~/server/auth/session";
import { createSessionCache } from "~/server/auth/session-cache";
import { withDomainServices } from "~/server/composition";
import { redisConnectionOptions } from "~/server/platform/redis";
import { TEST_REDIS_URL, type TestApp } from "./app";

export async function createWebInstance(app: TestApp, opts: { channel: string; secret: string; closers: Array<() => Promise<unknown>> }) {
  const publisher = new Redis(redisConnectionOptions(TEST_REDIS_URL, { maxRetriesPerRequest: 1 }));
  const cache = createSessionCache({
    subscriber: new Redis(redisConnectionOptions(TEST_REDIS_URL, { maxRetriesPerRequest: 1 })),
    publisher,
    channel: opts.channel,
    ttlMs: 60_000, // any change seen is the invalidation's, never expiry's
    heartbeatMs: 200,
    logger: app.services.logger,
  });
  await cache.whenReady();
  const sessions = createSessionManager(app.services.db, { secret: opts.secret, ttlSeconds: 3600, secureCookie: false }, cache);
  opts.closers.push(() => sessions.close(), () => publisher.quit());
  // This instance's own domain services, over its own session manager.
  const services = withDomainServices({ ...app.services, sessions });
  const trpc = createTrpcHttpHandler(services);
  const download = createDownloadHandler(services);
  return {
    cache,
    sessions,
    async cookieFor(userId: string) {
      const row = await app.services.db.user.findUniqueOrThrow({ where: { id: userId }, select: { id: true, sessionVersion: true } });
      return `${SESSION_COOKIE}=${await sessions.seal(row)}`;
    },
    call(path: string, cookie: string, input?: unknown) {
      if (input === undefined) return trpc(new Request(`http://localhost/api/trpc/${path}`, { headers: { cookie } }));
      return trpc(
        new Request(`http://localhost/api/trpc/${path}`, {
          method: "POST",
          headers: { cookie, "content-type": "application/json", origin: "http://localhost" },
          body: JSON.stringify({ json: input }),
        }),
      );
    },
    download(fileId: string, cookie: string) {
      return download(new Request(`http://localhost/api/files/${fileId}/download`, { headers: { cookie } }), fileId);
    },
  };
}

export type WebInstance = Awaited<ReturnType<typeof createWebInstance>>;
