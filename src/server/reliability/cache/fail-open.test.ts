import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { createQueryCache, type CacheReadSpec, type QueryCache } from "./query-cache";
import { createCacheRedis } from "./redis-client";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** No request may wait on a broken Redis: a call taking longer than this is a hang. */
const HANG_MS = 1000;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(20);
  }
}

let redis: PrivateRedis;
let cache: QueryCache;
let client: ReturnType<typeof createCacheRedis>;
const warnings: Array<{ obj: object; msg?: string }> = [];
const logger = { warn: (obj: object, msg?: string) => warnings.push({ obj, msg }), error: () => {} };

/** The "database": what a loader reads. */
const db = { name: "report.pdf", loads: 0 };
const spec: CacheReadSpec = { prefix: "files", path: "files.get", scope: "u:alice:user", input: { id: "f1" }, ttlMs: 60_000, tags: ["file:f1"] };
const loader = async () => {
  db.loads += 1;
  await sleep(5);
  return { name: db.name };
};

beforeAll(async () => {
  redis = await startPrivateRedis();
  client = createCacheRedis(redis.url);
  cache = createQueryCache({ redis: client, commandTimeoutMs: 20, appPrefix: "failopen", logger, breakerMs: 200, errorLogIntervalMs: 60_000, statsFlushMs: 0 });
  expect(await cache.whenReady()).toBe(true);
});

afterAll(async () => {
  await cache.close();
  client.disconnect();
  await redis.close();
});

describe("fail-open", () => {
  it("answers from the database, promptly, while Redis hangs (SIGSTOP); logs once and counts every failure", async () => {
    expect(await cache.wrap(spec, loader)).toEqual({ name: "report.pdf" });
    expect(await cache.wrap(spec, loader)).toEqual({ name: "report.pdf" });
    expect(db.loads).toBe(1); // warm: the second read was a hit

    redis.pause();
    try {
      db.name = "renamed.pdf"; // the write commits…
      const invalidation = await timed(() => cache.invalidate(["file:f1"])); // …but Redis cannot take the invalidation
      expect(invalidation.value.ok).toBe(false);
      expect(invalidation.ms).toBeLessThan(HANG_MS);
      expect(cache.pendingInvalidationCount).toBe(1);

      const reads = await timed(() => Promise.all(Array.from({ length: 50 }, () => cache.wrap(spec, loader))));
      expect(reads.ms).toBeLessThan(HANG_MS);
      expect(reads.value.every((v) => v.name === "renamed.pdf")).toBe(true);
      // Sequential reads too: each is bounded by the command timeout or skipped by the breaker.
      for (let i = 0; i < 5; i++) {
        const one = await timed(() => cache.wrap(spec, loader));
        expect(one.value).toEqual({ name: "renamed.pdf" });
        expect(one.ms).toBeLessThan(HANG_MS);
        await sleep(60);
      }
      expect(cache.errorCount).toBeGreaterThanOrEqual(1);
      const redisWarnings = warnings.filter((w) => /Redis unavailable or slow/.test(w.msg ?? ""));
      expect(redisWarnings).toHaveLength(1); // once per interval, not once per request
    } finally {
      redis.resume();
    }

    // Back: the delayed invalidation is applied, so the old entry (still in Redis) is never served.
    await until(() => cache.pendingInvalidationCount === 0);
    await sleep(250); // breaker window
    expect(await cache.wrap(spec, loader)).toEqual({ name: "renamed.pdf" });
    const loadsAfter = db.loads;
    expect(await cache.wrap(spec, loader)).toEqual({ name: "renamed.pdf" });
    expect(db.loads).toBe(loadsAfter); // and caching works again
  });

  it("answers from the database, promptly, while Redis is stopped, and caches again once it is back", async () => {
    await redis.stop();
    db.name = "while-down.pdf";
    const invalidation = await timed(() => cache.invalidate(["file:f1"]));
    expect(invalidation.value.ok).toBe(false);
    expect(invalidation.ms).toBeLessThan(HANG_MS);
    for (let i = 0; i < 5; i++) {
      const one = await timed(() => cache.wrap(spec, loader));
      expect(one.value).toEqual({ name: "while-down.pdf" });
      expect(one.ms).toBeLessThan(HANG_MS);
    }
    // A burst while down still runs the loader once per process.
    const before = db.loads;
    const burst = await Promise.all(Array.from({ length: 30 }, () => cache.wrap(spec, loader)));
    expect(burst.every((v) => v.name === "while-down.pdf")).toBe(true);
    expect(db.loads - before).toBe(1);

    await redis.restart();
    await until(() => client.status === "ready" && cache.pendingInvalidationCount === 0);
    await sleep(250);
    expect(await cache.wrap(spec, loader)).toEqual({ name: "while-down.pdf" });
    const loads = db.loads;
    expect(await cache.wrap(spec, loader)).toEqual({ name: "while-down.pdf" });
    expect(db.loads).toBe(loads);
    const report = await cache.stats();
    expect(report.prefixes.find((p) => p.prefix === "files")?.bypassed).toBeGreaterThan(0);
  });
});
