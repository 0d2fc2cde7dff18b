/**
 * A private redis-server on a private port, as `npm run dev` starts one: no persistence, so a
 * restart comes back EMPTY (every BullMQ job and cache entry lost), which is the fault under test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";

export interface ChaosRedis {
  url: string;
  isUp(): boolean;
  /** SIGKILL: Redis gone, with everything it held. */
  kill(): Promise<void>;
  /** Start again on the same port, empty. */
  start(): Promise<void>;
  flushAll(): Promise<void>;
  close(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function startChaosRedis(port: number): Promise<ChaosRedis> {
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning", "--maxmemory-policy", "noeviction"], {
      stdio: "ignore",
    });
    for (let i = 0; i < 200; i++) {
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    isUp: () => child !== null,
    kill,
    start,
    async flushAll() {
      const client = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
      client.on("error", () => {});
      try {
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
    close: kill,
  };
}
