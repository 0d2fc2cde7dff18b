/**
 * The multi-key and per-node operations that a Redis Cluster changes, on the suite's real cluster:
 * entries spread over every master while tag tokens share one slot; a prefix flush and the key
 * count walk every master; idempotency counters (one script) land; the eviction check asks every
 * node; BullMQ's prefix carries a hash tag, each queue its own, and the queues land on different
 * masters while a job still goes through every one of them.
 */
import { Queue, Worker } from "bullmq";
import { randomUUID } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import type { Cluster } from "ioredis";
import { pino } from "pino";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCacheRedis, createQueryCache, type QueryCache } from "~/server/reliability/cache";
import { entryKey, keyspace, tagKey } from "~/server/reliability/cache/keys";
import { createIdempotencyMetrics } from "~/server/reliability/idempotency/metrics";
import { checkEvictionPolicy } from "~/server/platform/redis-eviction";
import { bullmqConnection, createRedisClient, dataNodes, isCluster, queuePrefix, type RedisClient } from "~/server/platform/redis";
import { waitFor } from "~test/fixtures/outbox.test-support";
import { deleteKeysUnder, testRedisTarget } from "~test/support/app";

// This file's own keyspace: no other file of the suite (which run side by side) writes under it.
const appPrefix = `test-slots-${randomUUID().slice(0, 8)}`;
let admin: RedisClient;
let cache: QueryCache;
let cacheRedis: RedisClient;

beforeAll(async () => {
  const target = testRedisTarget();
  expect(target.clusterNodes?.length).toBeGreaterThan(0);
  admin = createRedisClient(target, { maxRetriesPerRequest: 1 });
  cacheRedis = createCacheRedis(target);
  cache = createQueryCache({ redis: cacheRedis, adminRedis: admin, commandTimeoutMs: 2000, appPrefix, logger: pino({ level: "silent" }), statsFlushMs: 0 });
  expect(await cache.whenReady()).toBe(true);
});

afterAll(async () => {
  await cache?.close();
  await deleteKeysUnder(admin, [appPrefix]);
  cacheRedis?.disconnect();
  await admin?.quit();
});

describe("on a Redis Cluster", () => {
  it("the app's clients are Cluster clients and BullMQ's prefix is hash-tagged", () => {
    expect(isCluster(admin)).toBe(true);
    expect(dataNodes(admin)).toHaveLength(3);
    expect(queuePrefix("metastore", admin)).toBe("{metastore}");
    expect(queuePrefix("{metastore}", admin)).toBe("{metastore}");
  });

  it("gives each BullMQ queue its own slot: the app's queues spread over the masters, and a job runs through each", async () => {
    const queues = Object.values(QueueName);
    const masterOf = async (slot: number) => {
      await waitFor("the cluster's slot map", async () => ((admin as Cluster).slots[slot]?.length ? true : ((await (admin as Cluster).refreshSlotsCache?.()), false)), 10_000, 100);
      return (admin as Cluster).slots[slot]![0]!;
    };
    // The production prefix: where `metastore`'s queues live on this 3-master cluster.
    const prod = queues.map((q) => ({ q, prefix: queueKeyPrefix(queuePrefix("metastore", admin), q) }));
    expect(new Set(prod.map((p) => p.prefix)).size).toBe(queues.length);
    expect(prod.find((p) => p.q === QueueName.outboxEvents)?.prefix).toBe("{metastore:outbox-events}");
    const slots = prod.map((p) => calculateSlot(`${p.prefix}:${p.q}:wait`));
    expect(new Set(slots).size).toBe(queues.length);
    const masters = new Set(await Promise.all(slots.map(masterOf)));
    expect(masters.size).toBe(3); // every master holds some queue (one tag would put all on one)

    // Every queue works on its own slot: BullMQ's Lua scripts (add, move to active, complete) touch
    // several keys of the queue at once and would fail with CROSSSLOT if they were not together.
    const bullPrefix = queuePrefix(appPrefix, admin);
    const connection = bullmqConnection(testRedisTarget());
    for (const q of queues) {
      const prefix = queueKeyPrefix(bullPrefix, q);
      const queue = new Queue(q, { connection, prefix });
      const done = new Promise<unknown>((resolve, reject) => {
        const worker = new Worker(q, async (job) => job.data, { connection, prefix });
        worker.on("completed", (job) => void worker.close().then(() => resolve(job.returnvalue)));
        worker.on("failed", (_job, err) => void worker.close().then(() => reject(err)));
      });
      await queue.add("probe", { queue: q });
      expect(await done).toEqual({ queue: q });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await deleteKeysUnder(admin, queues.map((q) => queueKeyPrefix(bullPrefix, q)));
  });

  it("spreads cache entries over every master, keeps tag tokens in one slot, and a prefix flush and key count reach every master", async () => {
    const ks = keyspace(appPrefix);
    const tags = ["file:a", "file:b", "files:owner:x", "prefix:spread"];
    expect(new Set(tags.map((t) => calculateSlot(tagKey(ks, t)))).size).toBe(1);
    const specs = Array.from({ length: 300 }, (_, i) => ({ prefix: "spread", path: "p", scope: "anon", input: { i }, ttlMs: 60_000, tags: ["file:a", "files:owner:x"] }));
    for (const spec of specs) expect(await cache.wrap(spec, async () => spec.input.i)).toBe(spec.input.i);
    // Each master holds some of them: the entries are not pinned to one node.
    const perMaster = await Promise.all(dataNodes(admin).map(async (node) => (await node.keys(`${ks.root}:e:spread:*`)).length));
    expect(perMaster.every((n) => n > 0)).toBe(true);
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(300);
    // Served from the cache (MGET of entry + tags split per slot), then dropped by one tag.
    expect(await cache.wrap(specs[7]!, async () => -1)).toBe(7);
    expect(await cache.invalidate(["file:a"])).toEqual({ ok: true });
    expect(await cache.wrap(specs[7]!, async () => -1)).toBe(-1);
    const stats = await cache.stats();
    expect(stats.prefixes.find((p) => p.prefix === "spread")?.keys).toBe(300);
    expect(await cache.flushPrefix("spread")).toEqual({ deleted: 300 });
    expect(await admin.exists(entryKey(ks, specs[0]!))).toBe(0);
  });

  it("records idempotency counters (one script over the total and the hourly hash) and reads them back", async () => {
    const metrics = createIdempotencyMetrics(admin, appPrefix, (err) => {
      throw err;
    });
    metrics.record(["requests", "executed"], "files.rename");
    metrics.record(["requests", "replayed"], "files.rename");
    await new Promise((r) => setTimeout(r, 100)); // record() is fire-and-forget
    const total = await metrics.read();
    expect(total.total).toMatchObject({ requests: 2, executed: 1, replayed: 1 });
    expect((await metrics.read({ hours: 2 })).byProcedure["files.rename"]).toMatchObject({ requests: 2 });
  });

  it("checks the eviction policy on every node (masters and replicas)", async () => {
    // The client learns the replicas from CLUSTER SLOTS (refreshed every few seconds).
    const cluster = admin as import("ioredis").Cluster;
    await waitFor("the cluster client to know all six nodes", async () => cluster.nodes("all").length === 6, 20_000, 100);
    const replica = cluster.nodes("slave")[0]!;
    expect(await checkEvictionPolicy(admin)).toEqual({ policy: "noeviction", ok: true });
    await replica.config("SET", "maxmemory-policy", "allkeys-lru");
    try {
      const check = await checkEvictionPolicy(admin);
      expect(check).toMatchObject({ policy: "allkeys-lru", ok: false });
      expect(check.warning).toMatch(/on 1 of 6 cluster nodes/);
    } finally {
      await replica.config("SET", "maxmemory-policy", "noeviction");
    }
  });
});
