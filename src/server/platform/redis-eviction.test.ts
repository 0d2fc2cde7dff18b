/**
 * Redis as BullMQ needs it (issue 9, defect 4): health says when Redis would evict keys. Against
 * private redis-servers, one with an evicting policy and one with noeviction.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "~/server/platform/db/client";
import { checkHealth } from "~/server/platform/health";
import { createTestDatabase, type TestDatabase } from "~test/support/database";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { checkEvictionPolicy } from "./redis-eviction";

let evicting: PrivateRedis;
let strict: PrivateRedis;
let database: TestDatabase;
let db: ReturnType<typeof createDb>;

beforeAll(async () => {
  [evicting, strict, database] = await Promise.all([
    startPrivateRedis({ args: ["--maxmemory-policy", "allkeys-lru"] }),
    startPrivateRedis({ args: ["--maxmemory-policy", "noeviction"] }),
    createTestDatabase(),
  ]);
  db = createDb(database.url, { max: 2 });
});
afterAll(async () => {
  await db?.$disconnect();
  await Promise.all([evicting?.close(), strict?.close(), database?.drop()]);
});

describe("Redis eviction policy", () => {
  it("names an evicting policy and what BullMQ needs instead", async () => {
    const check = await checkEvictionPolicy(evicting.client());
    expect(check).toMatchObject({ policy: "allkeys-lru", ok: false });
    expect(check.warning).toMatch(/maxmemory-policy is allkeys-lru.*BullMQ needs noeviction/);
  });

  it("accepts noeviction", async () => {
    expect(await checkEvictionPolicy(strict.client())).toEqual({ policy: "noeviction", ok: true });
  });

  it("health stays up with an evicting Redis but says so", async () => {
    const { httpStatus, report } = await checkHealth({ db, redis: evicting.client() });
    expect(httpStatus).toBe(200);
    expect(report).toMatchObject({ status: "ok", postgres: "ok", redis: "ok", redisEvictionPolicy: "allkeys-lru" });
    expect(report.warnings).toEqual([expect.stringMatching(/may evict queued jobs/)]);
  });

  it("health has no warning with noeviction, and is 503 when Redis is down", async () => {
    expect((await checkHealth({ db, redis: strict.client() })).report).toMatchObject({ status: "ok", redisEvictionPolicy: "noeviction", warnings: [] });
    const down = new Redis({ port: evicting.port, host: "127.0.0.1", maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    down.on("error", () => {});
    await evicting.stop();
    try {
      const { httpStatus, report } = await checkHealth({ db, redis: down });
      expect(httpStatus).toBe(503);
      expect(report).toMatchObject({ status: "degraded", postgres: "ok", redisEvictionPolicy: null });
      expect(report.redis).toBe("down"); // the reason goes to the log, never the public body
    } finally {
      down.disconnect();
    }
  });
});
