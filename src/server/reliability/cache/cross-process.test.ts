import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const ROOT = path.resolve(import.meta.dirname, "../../../..");
const CHILD = path.join(ROOT, "test/fixtures/cache-miss-together-child.ts");
const appPrefix = `test-xproc-${randomUUID().slice(0, 8)}`;

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${appPrefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
  await redis.quit();
});

interface ChildReport {
  pid: number;
  loads: number;
  loadedBy: number[];
  datesIntact: boolean;
  waited: number;
}

async function child(): Promise<ChildReport> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", CHILD], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL, APP_PREFIX: appPrefix },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as ChildReport;
}

describe("stampede protection across processes", () => {
  it("two processes missing one key together run the loader once; the other waits for its value", async () => {
    // Both children start their 25 concurrent reads once both are up (a barrier in Redis, not a
    // wall-clock start time, which a slow start-up on a loaded machine missed), and the loader holds
    // the lock until the other child has lost it (see the fixture).
    const [a, b] = await Promise.all([child(), child()]);
    expect(a.pid).not.toBe(b.pid);
    expect(a.loads + b.loads).toBe(1);
    const loader = a.loads === 1 ? a : b;
    const waiter = a.loads === 1 ? b : a;
    // Every read in both processes got the one loaded value (with its Date intact through Redis).
    expect(a.loadedBy).toEqual([loader.pid]);
    expect(b.loadedBy).toEqual([loader.pid]);
    expect(a.datesIntact && b.datesIntact).toBe(true);
    // The other process got it by waiting on the lock holder, not by a later plain hit.
    expect(waiter.waited).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
