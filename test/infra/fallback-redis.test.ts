/**
 * The Redis that `npm run dev` / `npm start` start when REDIS_URL is unreachable (scripts/infra.ts):
 * set up as BullMQ needs it (noeviction) and with AOF persistence, so a dev restart keeps queued work.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { ensureRedis } from "../../scripts/infra";
import { checkEvictionPolicy } from "~/server/platform/redis-eviction";
import { freePort } from "../support/redis-server";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function withClient<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

describe("the fallback Redis of the dev scripts", () => {
  it("runs with noeviction and AOF, and keeps what it held across a restart", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "metastore-fallback-redis-"));
    dirs.push(dataDir);
    const url = `redis://127.0.0.1:${await freePort()}`;

    const first = await ensureRedis(url, { dataDir });
    expect(first.stop).toBeDefined(); // nothing listened there: this run started it
    try {
      await withClient(url, async (redis) => {
        expect(await checkEvictionPolicy(redis)).toMatchObject({ policy: "noeviction", ok: true });
        expect(await redis.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
        await redis.set("queued-work", "still here");
      });
    } finally {
      await first.stop!();
    }

    const second = await ensureRedis(url, { dataDir });
    try {
      await withClient(url, async (redis) => expect(await redis.get("queued-work")).toBe("still here"));
    } finally {
      await second.stop!();
    }
  });
});
