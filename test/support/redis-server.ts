/**
 * A private redis-server for tests that stop, pause or flood Redis: never the shared one on 6379.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

export interface PrivateRedis {
  port: number;
  url: string;
  /** SIGSTOP: Redis is alive but answers nothing (a hung or overloaded server). */
  pause(): void;
  resume(): void;
  /** Kill the server (Redis gone). */
  stop(): Promise<void>;
  /** Start it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
  /** A plain client for assertions (closed by stop()/close()). */
  client(): Redis;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a redis-server on 127.0.0.1:`port` answers PING (each probe its own short-lived client). */
export async function waitForPing(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    probe.on("error", () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === "PONG") return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not start within ${timeoutMs} ms`);
}

/**
 * `args`: more redis-server options (e.g. `["--maxmemory-policy", "allkeys-lru"]`); `port`: a fixed
 * port (a helper's own range) instead of a free one the OS picks.
 */
export async function startPrivateRedis(opts: { args?: string[]; port?: number } = {}): Promise<PrivateRedis> {
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | null = null;
  const clients: Redis[] = [];

  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning", ...(opts.args ?? [])], {
      stdio: "ignore",
    });
    await waitForPing(port);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGCONT");
    c.kill("SIGKILL");
    await exited;
  };
  await start();

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    stop,
    restart: start,
    client() {
      const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
      c.on("error", () => {});
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await stop();
    },
  };
}
