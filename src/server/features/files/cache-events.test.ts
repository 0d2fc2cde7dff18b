import { randomUUID } from "node:crypto";
import { deleteKeysUnder, testRedisTarget } from "~test/support/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisClient, type RedisClient } from "../../platform/redis";
import { invalidateForFileEvent, tagsForFileEvent } from "./cache-events";
import { fileTags } from "./cache-tags";
import { createQueryCache, type QueryCache } from "../../reliability/cache/query-cache";
import { createCacheRedis } from "../../reliability/cache/redis-client";

// The shared test Redis, or the cluster of `npm run test:redis-cluster`.
const REDIS = testRedisTarget();
const silent = { warn: () => {}, error: () => {} };
const fileId = randomUUID();
const ownerId = randomUUID();

describe("tagsForFileEvent", () => {
  it.each(["file.uploaded", "file.renamed", "file.tagged", "file.deleted"])("maps %s to the file's tag and its owner's list tag", (type) => {
    expect(tagsForFileEvent({ type, payload: { fileId, ownerId, extra: 1 } })).toEqual([`file:${fileId}`, `files:owner:${ownerId}`]);
    expect(tagsForFileEvent({ type, payload: { fileId, ownerId } })).toEqual([fileTags.file(fileId), fileTags.ownerList(ownerId)]);
  });

  it("takes only the settled payload shape (the files service's old { file: { id, ownerId } } is refused)", () => {
    expect(() => tagsForFileEvent({ type: "file.renamed", payload: { file: { id: fileId, ownerId } } })).toThrow(/needs the file id and owner id/);
  });

  it("ignores events the cache does not depend on", () => {
    expect(tagsForFileEvent({ type: "saga.completed", payload: {} })).toEqual([]);
  });

  it.each([
    ["no payload", undefined],
    ["no owner id", { fileId }],
    ["an owner id that is not a UUID", { fileId, ownerId: "bob" }],
  ])("refuses a file event with %s, naming what is missing", (_label, payload) => {
    expect(() => tagsForFileEvent({ type: "file.renamed", payload })).toThrow(/file\.renamed: its payload needs the file id and owner id/);
  });
});

describe("invalidateForFileEvent (the outbox consumer's path)", () => {
  let appPrefix: string;
  let client: RedisClient;
  let cache: QueryCache;

  beforeAll(async () => {
    appPrefix = `test-fev-${randomUUID().slice(0, 8)}`;
    client = createCacheRedis(REDIS);
    cache = createQueryCache({ redis: client, commandTimeoutMs: 2000, appPrefix, logger: silent, statsFlushMs: 0 });
    expect(await cache.whenReady()).toBe(true);
  });
  afterAll(async () => {
    await cache.close();
    const plain = createRedisClient(REDIS, { maxRetriesPerRequest: 1 });
    await deleteKeysUnder(plain, [appPrefix]);
    await plain.quit();
    client.disconnect();
  });

  it("drops the cached get of the file and the owner's cached lists, and nothing else", async () => {
    const other = randomUUID();
    const get = { prefix: "files", path: "files.get", scope: `u:${ownerId}:user`, input: { id: fileId }, ttlMs: 60_000, tags: [fileTags.file(fileId)] };
    const list = { prefix: "files", path: "files.list", scope: `u:${ownerId}:user`, input: {}, ttlMs: 60_000, tags: [fileTags.ownerList(ownerId)] };
    const otherList = { prefix: "files", path: "files.list", scope: `u:${other}:user`, input: {}, ttlMs: 60_000, tags: [fileTags.ownerList(other)] };
    await cache.wrap(get, async () => "old name");
    await cache.wrap(list, async () => ["old name"]);
    await cache.wrap(otherList, async () => ["someone else's"]);

    const { tags } = await invalidateForFileEvent(cache, { type: "file.renamed", payload: { fileId, ownerId, from: "old name", to: "new name" } });

    expect(tags).toEqual([`file:${fileId}`, `files:owner:${ownerId}`]);
    expect(await cache.wrap(get, async () => "new name")).toBe("new name");
    expect(await cache.wrap(list, async () => ["new name"])).toEqual(["new name"]);
    expect(await cache.wrap(otherList, async () => ["reloaded"])).toEqual(["someone else's"]);
  });

  it("throws when Redis cannot take the invalidation, so the consumer's job is retried", async () => {
    const down = createCacheRedis("redis://127.0.0.1:1"); // nothing listens on port 1
    const offline = createQueryCache({ redis: down, appPrefix, logger: silent, statsFlushMs: 0 });
    try {
      await expect(invalidateForFileEvent(offline, { type: "file.deleted", payload: { fileId, ownerId } })).rejects.toThrow(
        /Redis did not take the cache invalidation for file\.deleted .*retry the event/,
      );
    } finally {
      await offline.close();
      down.disconnect();
    }
  });
});
