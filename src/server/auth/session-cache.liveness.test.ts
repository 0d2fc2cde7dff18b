/**
 * When the session cache trusts its entries, judged against a real, private redis-server with the
 * cache's clock in the test's hands: a process whose own timers ran late (a loaded machine) keeps
 * its trust as long as Redis answered every PING it was sent; a PING Redis leaves unanswered ends
 * the trust two heartbeats after it was sent.
 */
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisConnectionOptions } from "~/server/platform/redis";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import type { SessionUser } from "./session";
import { createSessionCache } from "./session-cache";

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis.close();
});

const user: SessionUser = { id: "4b1c8f0e-0000-4000-8000-000000000001", email: "a@test.local", name: "A", role: "user", mustChangePassword: false };
const HEARTBEAT_MS = 100;

async function cacheWithClock(heartbeatMs: number) {
  let clock = Date.now();
  const publisher = new Redis(redisConnectionOptions(redis.url, { maxRetriesPerRequest: 1 }));
  publisher.on("error", () => {});
  const subscriber = new Redis(redisConnectionOptions(redis.url, { maxRetriesPerRequest: 1 }));
  const cache = createSessionCache({ subscriber, publisher, channel: "liveness", heartbeatMs, ttlMs: 3_600_000, logger: pino({ level: "silent" }), now: () => clock });
  await cache.whenReady();
  cache.set(user.id, 1, user, cache.token());
  expect(cache.get(user.id, 1)).toEqual(user);
  return {
    cache,
    advance: (ms: number) => void (clock += ms),
    close: async () => {
      await cache.close();
      publisher.disconnect();
    },
  };
}

describe("session cache trust", () => {
  it("survives this process's own lateness: its heartbeat timer did not run for ten intervals, but no PING was left unanswered", async () => {
    // A heartbeat of one minute: no PING is sent during this test, as when this process's timers
    // run late on a loaded machine. Ten intervals pass on the cache's clock: nothing suggests that
    // Redis failed (the subscription is live and no PING is waiting), so the entries stay trusted.
    const c = await cacheWithClock(60_000);
    try {
      c.advance(10 * 60_000);
      expect(c.cache.isLive()).toBe(true);
      expect(c.cache.get(user.id, 1)).toEqual(user);
    } finally {
      await c.close();
    }
  });

  it("ends two heartbeats after a PING that Redis leaves unanswered (hung), and drops the entries", async () => {
    const c = await cacheWithClock(HEARTBEAT_MS);
    redis.pause();
    try {
      // Real time passes for the heartbeat to send a PING into the hung server; then the clock says
      // two heartbeats went by since.
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 1.5));
      c.advance(HEARTBEAT_MS * 2 + 1);
      expect(c.cache.isLive()).toBe(false);
      expect(c.cache.get(user.id, 1)).toBeNull();
    } finally {
      redis.resume();
      await c.close();
    }
  });
});
