import { describe, expect, it } from "vitest";
import { createMicroBatcher } from "./micro-batcher";

describe("createMicroBatcher", () => {
  it("writes what comes in together as one batch, and a full batch at once", async () => {
    const batches: number[][] = [];
    const batcher = createMicroBatcher<number, number>({
      write: async (items) => {
        batches.push(items);
        return items.map((n) => n * 10);
      },
      maxBatch: 3,
      // Longer than the test may run: only a full batch (or a flush) gets written here.
      maxDelayMs: 60_000,
    });
    expect(await Promise.all([1, 2, 3].map((n) => batcher.add(n)))).toEqual([10, 20, 30]);
    const fourth = batcher.add(4);
    await batcher.flush();
    expect(await fourth).toBe(40);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it("writes a batch that never fills once its first item has waited maxDelayMs", async () => {
    const batcher = createMicroBatcher<number, number>({ write: async (items) => items, maxBatch: 100, maxDelayMs: 5 });
    expect(await Promise.all([batcher.add(1), batcher.add(2)])).toEqual([1, 2]);
  });

  it("fails the whole batch with the write's error when there is no retryEach", async () => {
    const batcher = createMicroBatcher<number, number>({
      write: async () => {
        throw new Error("the shared write failed");
      },
      maxBatch: 10,
      maxDelayMs: 1,
    });
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((r) => r.status === "rejected" && (r.reason as Error).message)).toEqual(["the shared write failed", "the shared write failed"]);
  });

  it("with retryEach, a failed batch is written again item by item: one bad item fails only its caller", async () => {
    const alone: number[] = [];
    const batcher = createMicroBatcher<number, string>({
      write: async (items) => {
        if (items.includes(13)) throw new Error("one item spoils the batch");
        return items.map(String);
      },
      retryEach: async (n) => {
        alone.push(n);
        if (n === 13) throw new Error("13 is bad on its own too");
        return `${n} alone`;
      },
      maxBatch: 10,
      maxDelayMs: 1,
    });
    const results = await Promise.allSettled([batcher.add(1), batcher.add(13), batcher.add(2)]);
    expect(results).toEqual([
      { status: "fulfilled", value: "1 alone" },
      { status: "rejected", reason: new Error("13 is bad on its own too") },
      { status: "fulfilled", value: "2 alone" },
    ]);
    expect(alone).toEqual([1, 13, 2]);
  });

});
