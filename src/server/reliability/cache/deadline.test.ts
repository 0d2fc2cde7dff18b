import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { CacheTimeoutError, withDeadline } from "./deadline";

let redis: PrivateRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startPrivateRedis();
  client = redis.client();
  await client.ping();
});
afterAll(() => redis.close());

/** Keep this process busy (no event loop turn) for `ms`, like a request handler hogging the CPU. */
function hogCpu(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe("withDeadline", () => {
  it("does not fail a reply that arrived while this process's event loop was busy", async () => {
    for (let i = 0; i < 20; i++) {
      const reply = withDeadline(client.get("missing"), 10);
      hogCpu(40); // the reply is in the socket buffer long before the loop runs the 10 ms timer
      await expect(reply).resolves.toBeNull();
    }
  });

  it("a plain timer (what ioredis' commandTimeout does) would have failed those same commands", async () => {
    const plainTimer = <T>(p: Promise<T>, ms: number) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), ms))]);
    const reply = plainTimer(client.get("missing"), 10);
    hogCpu(40);
    await expect(reply).rejects.toThrow("timed out");
  });

  it("fails a command Redis really does not answer, after about the deadline", async () => {
    redis.pause();
    try {
      const started = performance.now();
      await expect(withDeadline(client.get("missing"), 20)).rejects.toBeInstanceOf(CacheTimeoutError);
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      redis.resume();
    }
  });
});
