import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { deleteKeysUnder, testRedisTarget } from "~test/support/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { waitFor } from "~test/support/wait-for";
import { createRedisClient, isCluster, redisConnectionOptions, type RedisClient } from "../../platform/redis";
import { encodeEntry } from "./entry";
import { entryKey, keyspace, prefixTag, tagKey } from "./keys";
import { createQueryCache, type CacheReadSpec, type QueryCache } from "./query-cache";
import { createCacheRedis } from "./redis-client";

// The shared test Redis, or the cluster of `npm run test:redis-cluster`.
const REDIS = testRedisTarget();
const silent = process.env.DEBUG_CACHE_TEST ? { warn: (o: object, m?: string) => console.warn(m, o), error: (o: object, m?: string) => console.error(m, o) } : { warn: () => {}, error: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let appPrefix: string;
let client: RedisClient;
let plain: RedisClient;
let cache: QueryCache;

beforeAll(async () => {
  appPrefix = `test-cache-${randomUUID().slice(0, 8)}`;
  // A patient timeout: these tests are about caching semantics on a shared, busy machine; the
  // few-ms timeouts and what happens when they fire are fail-open.test.ts's subject.
  client = createCacheRedis(REDIS);
  plain = createRedisClient(REDIS, { maxRetriesPerRequest: 1 });
  cache = createQueryCache({ redis: client, commandTimeoutMs: 2000, appPrefix, logger: silent, statsFlushMs: 0 });
  expect(await cache.whenReady()).toBe(true);
});

afterAll(async () => {
  await cache.close();
  await deleteKeysUnder(plain, [appPrefix]);
  client.disconnect();
  await plain.quit();
});

function spec(over: Partial<CacheReadSpec> = {}): CacheReadSpec {
  return { prefix: "t", path: "things.list", scope: "u:alice:user", input: { page: 1 }, ttlMs: 10_000, tags: [], ...over };
}

/** A loader that counts its runs and takes a while, like a real query. */
function countingLoader<T>(value: (run: number) => T, ms = 50) {
  let runs = 0;
  const loader = async () => {
    runs += 1;
    const run = runs;
    await sleep(ms);
    return value(run);
  };
  return { loader, runs: () => runs };
}

describe("cache-aside", () => {
  it("runs the loader once for 200 concurrent misses of one key, and every caller gets its value", async () => {
    const s = spec({ input: { case: "stampede" } });
    const { loader, runs } = countingLoader((run) => ({ run, at: new Date("2026-01-02T03:04:05Z") }), 100);
    const results = await Promise.all(Array.from({ length: 200 }, () => cache.wrap(s, loader)));
    expect(runs()).toBe(1);
    expect(new Set(results.map((r) => r.run))).toEqual(new Set([1]));
    // The next call is a hit from Redis, with the transformer's types intact.
    const hit = await cache.wrap(s, loader);
    expect(runs()).toBe(1);
    expect(hit.at).toBeInstanceOf(Date);
    expect(hit.at.toISOString()).toBe("2026-01-02T03:04:05.000Z");
  });

  it("keeps BigInt, Date and undefined-free objects intact through Redis (superjson)", async () => {
    const s = spec({ input: { case: "types" } });
    const value = { n: 12345678901234567890n, d: new Date(0), list: [1, "two", null], nested: { set: new Set(["a"]) } };
    await cache.wrap(s, async () => value);
    const hit = await cache.wrap(s, async () => ({ n: 0n, d: new Date(1), list: [], nested: { set: new Set<string>() } }));
    expect(hit).toEqual(value);
  });

  it("keys by canonical input: property order does not matter, values do", async () => {
    const { loader, runs } = countingLoader(() => "v", 1);
    await cache.wrap(spec({ input: { a: 1, b: 2 } }), loader);
    await cache.wrap(spec({ input: { b: 2, a: 1 } }), loader);
    expect(runs()).toBe(1);
    await cache.wrap(spec({ input: { a: 1, b: 3 } }), loader);
    expect(runs()).toBe(2);
  });

  it("keeps callers apart: another scope never gets the first scope's value", async () => {
    const input = { case: "scopes" };
    const a = await cache.wrap(spec({ input, scope: "u:alice:user" }), async () => "alice's");
    const b = await cache.wrap(spec({ input, scope: "u:bob:user" }), async () => "bob's");
    expect([a, b]).toEqual(["alice's", "bob's"]);
    expect(await cache.wrap(spec({ input, scope: "u:alice:user" }), async () => "reloaded")).toBe("alice's");
    expect(await cache.wrap(spec({ input, scope: "u:bob:user" }), async () => "reloaded")).toBe("bob's");
  });

  it("passes a loader error to every waiting caller and caches nothing", async () => {
    const s = spec({ input: { case: "error" } });
    let runs = 0;
    const failing = async () => {
      runs += 1;
      await sleep(30);
      throw new Error("database said no");
    };
    const settled = await Promise.allSettled(Array.from({ length: 20 }, () => cache.wrap(s, failing)));
    expect(settled.every((r) => r.status === "rejected" && (r.reason as Error).message === "database said no")).toBe(true);
    expect(runs).toBe(1);
    expect(await cache.wrap(s, async () => "recovered")).toBe("recovered");
  });
});

describe("TTL", () => {
  it("serves the value until its TTL, then reloads it; Redis holds it no longer than the TTL", async () => {
    const s = spec({ input: { case: "ttl" }, ttlMs: 300 });
    const { loader, runs } = countingLoader((run) => `v${run}`, 1);
    expect(await cache.wrap(s, loader)).toBe("v1");
    const pttl = await plain.pttl(entryKey(keyspace(appPrefix), s));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(300);
    expect(await cache.wrap(s, loader)).toBe("v1");
    await sleep(350);
    expect(await cache.wrap(s, loader)).toBe("v2");
    expect(runs()).toBe(2);
  });

  it("stale-while-revalidate: serves the just-expired value at once while ONE loader refreshes it", async () => {
    const s = spec({ input: { case: "swr" }, ttlMs: 200, swrMs: 10_000 });
    const { loader, runs } = countingLoader((run) => `v${run}`, 100);
    expect(await cache.wrap(s, loader)).toBe("v1");
    await sleep(250); // expired, inside the SWR window
    const stale = await Promise.all(Array.from({ length: 20 }, () => cache.wrap(s, loader)));
    expect(stale).toEqual(Array(20).fill("v1"));
    // Until the one background refresh lands, callers keep getting v1 without starting another.
    await waitFor("the background refresh to land", async () => (await cache.wrap(s, loader)) === "v2");
    expect(runs()).toBe(2);
  });

  it("never serves a stale value after an invalidation, even inside the SWR window", async () => {
    const s = spec({ input: { case: "swr-invalidated" }, ttlMs: 100, swrMs: 10_000, tags: ["thing:swr"] });
    const { loader } = countingLoader((run) => `v${run}`, 1);
    expect(await cache.wrap(s, loader)).toBe("v1");
    await sleep(150);
    await cache.invalidate(["thing:swr"]);
    expect(await cache.wrap(s, loader)).toBe("v2");
  });
});

describe("invalidation by tag", () => {
  it("drops every entry carrying the tag and only those", async () => {
    const tagged = spec({ input: { case: "tag-a" }, tags: ["owner:1"] });
    const other = spec({ input: { case: "tag-b" }, tags: ["owner:2"] });
    await cache.wrap(tagged, async () => "old a");
    await cache.wrap(other, async () => "old b");
    expect((await cache.invalidate(["owner:1"])).ok).toBe(true);
    expect(await cache.wrap(tagged, async () => "new a")).toBe("new a");
    expect(await cache.wrap(other, async () => "new b")).toBe("old b");
  });

  it("a load that started before a write is never served after that write's invalidation", async () => {
    const s = spec({ input: { case: "race" }, tags: ["file:race"] });
    let database = "before";
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let loaded!: () => void;
    const hasRead = new Promise<void>((r) => (loaded = r));
    // Reader 1 reads the old row, then stalls before storing it (the classic stale-set race).
    const slowLoader = async () => {
      const seen = database;
      loaded();
      await gate;
      return seen;
    };
    const first = cache.wrap(s, slowLoader);
    await hasRead; // the old row has been read: only now may the write commit
    database = "after"; // the write commits…
    await cache.invalidate(["file:race"]); // …then invalidates
    // A read after the write must not join the old load, nor be served what it stores.
    const afterWrite = cache.wrap(s, async () => database);
    release();
    expect(await first).toBe("before"); // the caller that asked before the write may see the old value
    expect(await afterWrite).toBe("after");
    expect(await cache.wrap(s, async () => database)).toBe("after");
  });

  it("treats an evicted tag version as a miss (entries never outlive their tag's token)", async () => {
    const s = spec({ input: { case: "evicted-tag" }, tags: ["evict:me"] });
    await cache.wrap(s, async () => "v1");
    await plain.del(tagKey(keyspace(appPrefix), "evict:me"));
    expect(await cache.wrap(s, async () => "v2")).toBe("v2");
  });
});

describe("stats", () => {
  it("counts hits, misses and coalesced callers per prefix, with the hit rate, keys and loader time saved", async () => {
    const s = spec({ prefix: "statsprefix", input: { case: "stats" } });
    await Promise.all(Array.from({ length: 5 }, () => cache.wrap(s, async () => (await sleep(20), "x"))));
    await cache.wrap(s, async () => "y");
    await cache.wrap(s, async () => "y");
    const report = await cache.stats();
    const row = report.prefixes.find((p) => p.prefix === "statsprefix")!;
    expect(row).toMatchObject({ misses: 1, coalesced: 4, hits: 2, keys: 1 });
    expect(row.hitRate).toBeCloseTo(6 / 7);
    expect(row.savedMs).toBeGreaterThanOrEqual(6 * 15);
    expect(row.loadMs).toBeGreaterThanOrEqual(15);
  });

  it("counts a key once when SCAN returns it again (as Redis may while other clients resize its table)", async () => {
    const specs = Array.from({ length: 30 }, (_, i) => spec({ prefix: "rescanned", input: { i } }));
    for (const s of specs) await cache.wrap(s, async () => s.input);
    // The admin client's SCAN answers every batch's keys twice: the duplicates SCAN is allowed to send.
    const admin = createRedisClient(REDIS, { maxRetriesPerRequest: 1 });
    const doubled = (node: Redis) =>
      new Proxy(node, {
        get(target, prop, receiver) {
          if (prop !== "scan") return Reflect.get(target, prop, receiver) as unknown;
          return async (...args: Parameters<Redis["scan"]>) => {
            const [cursor, keys] = await target.scan(...args);
            return [cursor, [...keys, ...keys]];
          };
        },
      });
    const rescanning = isCluster(admin)
      ? new Proxy(admin, { get: (target, prop, receiver) => (prop === "nodes" ? (role: "master") => target.nodes(role).map(doubled) : Reflect.get(target, prop, receiver) as unknown) })
      : doubled(admin);
    const c = createQueryCache({ redis: client, commandTimeoutMs: 2000, adminRedis: rescanning, appPrefix, logger: silent, statsFlushMs: 0 });
    try {
      const report = await c.stats();
      expect(report.prefixes.find((p) => p.prefix === "rescanned")?.keys).toBe(30);
    } finally {
      await c.close();
      await admin.quit();
    }
  });
});

// On a private single redis-server (it counts the commands a flush sends): the cluster suite checks
// flushes across masters in test/cluster/slots.test.ts instead.
describe.skipIf(process.env.REDIS_CLUSTER_NODES)("prefix flush", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(() => redis.close());

  it("removes 100,000 entries of a prefix with SCAN batches (never KEYS) and leaves other prefixes alone", async () => {
    const direct = redis.client();
    const fast = createCacheRedis(redis.url);
    const admin = new Redis(redisConnectionOptions(redis.url, { maxRetriesPerRequest: 1 }));
    const c = createQueryCache({ redis: fast, commandTimeoutMs: 1000, adminRedis: admin, appPrefix: "flushapp", logger: silent, statsFlushMs: 0 });
    try {
      expect(await c.whenReady()).toBe(true);
      const ks = keyspace("flushapp");
      // One entry through the real read path, so we can see it is dead the moment the flush starts.
      // A long TTL: filling 100,000 keys takes more than the default 10 s on a busy machine, and an
      // expired live entry would not be there to be flushed.
      const live = spec({ prefix: "bulk", input: { case: "live" }, ttlMs: 600_000 });
      await c.wrap(live, async () => "cached");
      const tagToken = await direct.get(tagKey(ks, prefixTag("bulk")));
      const payload = encodeEntry({ value: { hello: "world" }, versions: [tagToken!], freshUntil: Date.now() + 600_000, loadMs: 1 });
      // The 100,000 entries are written by Redis itself (a script per 10,000), under keys of the
      // entry key's shape: hashing and pipelining them from here cost most of this test's time
      // on a busy machine, and the flush only sees keys.
      const sample = entryKey(ks, { prefix: "bulk", path: "p", scope: "anon", input: { i: 0 } });
      const keyHead = sample.slice(0, sample.lastIndexOf(":") + 1);
      const fill = "for i = tonumber(ARGV[2]), tonumber(ARGV[3]) do redis.call('SET', KEYS[1] .. string.format('%032x', i), ARGV[1], 'EX', 600) end";
      for (let start = 0; start < 100_000; start += 10_000) await direct.eval(fill, 1, keyHead, payload, start, start + 9_999);
      expect(await direct.dbsize()).toBeGreaterThanOrEqual(100_001);
      const keep = direct.pipeline();
      for (let i = 0; i < 500; i++) keep.set(entryKey(ks, { prefix: "keep", path: "p", scope: "anon", input: { i } }), payload, "EX", 600);
      await keep.exec();
      await direct.config("RESETSTAT");

      const { deleted } = await c.flushPrefix("bulk");

      expect(deleted).toBe(100_001);
      expect(await direct.dbsize()).toBe(500 + 1); // the "keep" entries + the "bulk" prefix tag token
      expect(await c.wrap(live, async () => "reloaded")).toBe("reloaded");
      const stats = await direct.info("commandstats");
      expect(stats).not.toMatch(/cmdstat_keys:/);
      const scanCalls = Number(/cmdstat_scan:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      expect(scanCalls).toBeGreaterThanOrEqual(100); // 100k keys in batches of 1000
      const report = await c.stats();
      expect(report.prefixes.find((p) => p.prefix === "keep")?.keys).toBe(500);
      expect(report.prefixes.find((p) => p.prefix === "bulk")?.keys ?? 0).toBe(1); // the reloaded one
    } finally {
      await c.close();
      fast.disconnect();
      admin.disconnect();
    }
  }, 60_000);
});
