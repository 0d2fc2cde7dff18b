import { describe, expect, it } from "vitest";
import { createPollingFeed } from "./polling-feed";

/** A value source the test moves by hand, counting how often the feed read it. */
function source(initial: number) {
  const s = { value: initial, reads: 0, fail: null as Error | null };
  return Object.assign(s, {
    load: async () => {
      s.reads += 1;
      if (s.fail) throw s.fail;
      return { n: s.value, readAtNoise: Math.random() };
    },
  });
}

describe("createPollingFeed", () => {
  it("answers the first reading at once, then only a change, and shares one poll among all waiters", async () => {
    const src = source(1);
    const feed = createPollingFeed({ load: src.load, changeKey: (v) => v.n, intervalMs: 20 });
    const ac = new AbortController();
    const first = await feed.nextChange(undefined, ac.signal);
    expect(first.value.n).toBe(1);

    // Three watchers who saw version 1: nothing wakes them while only the clock noise changes.
    const waits = [0, 1, 2].map(() => feed.nextChange(first.version, ac.signal));
    const readsBefore = src.reads;
    await new Promise((r) => setTimeout(r, 120));
    expect(feed.waiting).toBe(3);
    // One poll per interval for all three (about 6 in 120 ms): never three per interval.
    const polls = src.reads - readsBefore;
    expect(polls).toBeGreaterThan(0);
    expect(polls).toBeLessThan(12);

    src.value = 2;
    const woken = await Promise.all(waits);
    expect(woken.map((r) => r.value.n)).toEqual([2, 2, 2]);
    expect(new Set(woken.map((r) => r.version)).size).toBe(1);
    expect(woken[0]!.version).not.toBe(first.version);
    expect(feed.waiting).toBe(0);
  });

  it("stops polling when the last waiter leaves", async () => {
    const src = source(1);
    const feed = createPollingFeed({ load: src.load, changeKey: (v) => v.n, intervalMs: 10 });
    const first = await feed.nextChange(undefined, new AbortController().signal);
    const ac = new AbortController();
    const waiting = feed.nextChange(first.version, ac.signal);
    ac.abort(new Error("left"));
    await expect(waiting).rejects.toThrow("left");
    const reads = src.reads;
    await new Promise((r) => setTimeout(r, 60));
    expect(src.reads).toBe(reads);
    expect(feed.latest()).toBeUndefined();
  });

  it("fails every waiter when a poll fails, and recovers on the next watch", async () => {
    const src = source(1);
    const feed = createPollingFeed({ load: src.load, changeKey: (v) => v.n, intervalMs: 10 });
    const first = await feed.nextChange(undefined, new AbortController().signal);
    src.fail = new Error("database gone");
    const waits = [feed.nextChange(first.version, new AbortController().signal), feed.nextChange(first.version, new AbortController().signal)];
    await Promise.all(waits.map((w) => expect(w).rejects.toThrow("database gone")));
    src.fail = null;
    src.value = 3;
    const again = await feed.nextChange(first.version, new AbortController().signal);
    expect(again.value.n).toBe(3);
  });
});
