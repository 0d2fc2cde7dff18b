/**
 * The runner's abort-mark reads are coalesced into one MGET per event-loop turn (mark-batch.ts,
 * step-queue.ts). What must hold: every reader gets the right answer for its own key; a read asked
 * after a mark was written sees it (nothing is cached between turns); a failure reaches every reader
 * of the batch (the engine then asks PostgreSQL). A private redis-server, so INFO commandstats counts
 * only this file's commands.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullmqConnection } from "~/server/platform/redis";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { createBatchedGet } from "./mark-batch";
import { createBullSagaDispatcher, createStepQueue } from "./step-queue";

// Ports 47000-47999 belong to this suite's author; 47010 is this file's private Redis.
const REDIS_PORT = 47010;

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis({ port: REDIS_PORT });
});
afterAll(async () => {
  await redis?.close();
});

async function calls(command: "mget" | "get"): Promise<number> {
  const info = await redis.client().info("commandstats");
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info)?.[1] ?? 0);
}

describe("createBatchedGet", () => {
  it("answers reads made in one turn with one MGET, each reader its own key", async () => {
    const client = redis.client();
    const keys = Array.from({ length: 20 }, (_, i) => `mb:${randomUUID()}:${i}`);
    for (const k of keys.filter((_, i) => i % 3 === 0)) await client.set(k, "1");
    const read = createBatchedGet(async () => client);
    const before = await calls("mget");
    const values = await Promise.all(keys.map((k) => read(k)));
    expect(values).toEqual(keys.map((_, i) => (i % 3 === 0 ? "1" : null)));
    expect((await calls("mget")) - before).toBe(1);
  });

  it("caches nothing: a read asked after the key is written sees it", async () => {
    const client = redis.client();
    const read = createBatchedGet(async () => client);
    const key = `mb:${randomUUID()}`;
    expect(await read(key)).toBeNull();
    await client.set(key, "1");
    expect(await read(key)).toBe("1");
  });

  it("a failed MGET fails every read of its batch", async () => {
    const read = createBatchedGet(async () => ({
      get: async () => null,
      mget: async () => {
        throw new Error("connection lost");
      },
    }));
    const results = await Promise.allSettled([read("a"), read("b"), read("c")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    // The next turn's reads are a new batch.
    await expect(Promise.race([read("d").catch(() => "failed again"), new Promise((r) => setTimeout(() => r("hung"), 1000))])).resolves.toBe("failed again");
  });

  it("a client without MGET gets one GET per key", async () => {
    const client = redis.client();
    const key = `mb:${randomUUID()}`;
    await client.set(key, "x");
    const read = createBatchedGet(async () => ({ get: (k: string) => client.get(k) }));
    const before = await calls("get");
    expect(await Promise.all([read(key), read(`${key}:none`)])).toEqual(["x", null]);
    expect((await calls("get")) - before).toBe(2);
  });
});

describe("Bull dispatcher abort marks", () => {
  it("concurrent abortMarked calls share one MGET and each sees only its saga's mark", async () => {
    const queue = createStepQueue({ connection: bullmqConnection(redis.url), prefix: `sagawhatif-${randomUUID().slice(0, 8)}` });
    try {
      const dispatcher = createBullSagaDispatcher(queue);
      const sagas = Array.from({ length: 16 }, (_, i) => ({ sagaId: randomUUID(), generation: i % 2 }));
      for (const s of sagas.filter((_, i) => i % 4 === 0)) await dispatcher.markAbort(s, 60_000);
      const before = await calls("mget");
      const marked = await Promise.all(sagas.map((s) => dispatcher.abortMarked(s)));
      expect(marked).toEqual(sagas.map((_, i) => i % 4 === 0));
      expect((await calls("mget")) - before).toBe(1);
      // Another generation of a marked saga is not marked.
      expect(await dispatcher.abortMarked({ sagaId: sagas[0]!.sagaId, generation: 7 })).toBe(false);
    } finally {
      await queue.close();
    }
  });
});
