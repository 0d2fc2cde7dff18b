/**
 * The chaos suite's own world: private PostgreSQL and Redis it can kill, the production build under
 * `next start` (one instance, or several behind HAProxy), workers, a storage folder, and users
 * created for the run (never the demo seed). Web instances, workers and HAProxy are started by
 * scripts/cluster (the same code as `npm run deploy:local`).
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { hashPassword } from "~/server/auth/passwords";
import { migrateDatabase } from "../../../scripts/db-migrate";
import { freePort } from "../../support/redis-server";
import { chaosConfig } from "../config";
import { startCluster, type Cluster } from "../../../scripts/deploy-local/start-cluster";
import type { ManagedProcess } from "../../../scripts/deploy-local/supervisor";
import { createDatabase, startPrivatePostgres, type PrivatePostgres } from "./postgres";
import { startChaosRedis, type ChaosRedis } from "./redis";

export interface ChaosUser {
  id: string;
  email: string;
  password: string;
}

export interface World {
  dir: string;
  storageDir: string;
  baseUrl: string;
  databaseUrl: string;
  postgres: PrivatePostgres;
  redis: ChaosRedis;
  /** The web instances (one without a proxy). */
  webs: ManagedProcess[];
  workers: ManagedProcess[];
  cluster: Cluster;
  users: ChaosUser[];
  close(opts: { keepDir: boolean }): Promise<void>;
}

/** How many of each process: the classic run (one web, two workers) or the scale run (3 behind HAProxy, 4). */
export interface WorldShape {
  webs: number;
  workers: number;
  proxied: boolean;
  /** Extra environment for every app process (e.g. the scale checks' sign-in limits). */
  env?: Record<string, string>;
  /** Ports from here up (proxy, then web instances, then worker health at +20); default: any free ones. */
  portBase?: number;
}

export async function createWorld(log: (line: string) => void, shape: WorldShape = { webs: 1, workers: 2, proxied: false }): Promise<World> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "metastore-chaos-"));
  const storageDir = path.join(dir, "storage");
  mkdirSync(storageDir, { recursive: true });
  const ports = (n: number, from?: number) => Promise.all(Array.from({ length: n }, (_, i) => (from === undefined ? freePort() : from + i)));
  const [[pgPort, redisPort], [proxyPort], webPorts, healthPorts] = await Promise.all([
    ports(2),
    ports(1, shape.portBase),
    ports(shape.webs, shape.portBase === undefined ? undefined : shape.portBase + 1),
    ports(shape.workers, shape.portBase === undefined ? undefined : shape.portBase + 20),
  ]);

  const postgres = await startPrivatePostgres({ dir, port: pgPort!, log: () => {} });
  const databaseUrl = postgres.url("metastore_chaos");
  await createDatabase(postgres.url("postgres"), "metastore_chaos");
  await migrateDatabase(databaseUrl);
  log(`PostgreSQL 127.0.0.1:${pgPort} (private, migrated), data in ${dir}/pgdata`);

  const users: ChaosUser[] = [];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  for (let i = 0; i < chaosConfig.users; i++) {
    const user = { id: randomUUID(), email: `chaos-${i}-${randomUUID().slice(0, 6)}@chaos.local`, password: `chaos-password-${i}` };
    await client.query(
      "INSERT INTO app_user (id, email, name, password_hash, role, updated_at) VALUES ($1, $2, $3, $4, 'user', now())",
      [user.id, user.email, `chaos ${i}`, await hashPassword(user.password)],
    );
    users.push(user);
  }
  await client.end();

  const redis = await startChaosRedis(redisPort!);
  log(`Redis 127.0.0.1:${redisPort} (private, no persistence)`);

  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    SESSION_SECRET: "chaos-secret-chaos-secret-chaos-secret-0123",
    COOKIE_SECURE: "false",
    // APP_ORIGIN (the public origin: HAProxy's, or the single instance's) and TRUST_PROXY are set by
    // startCluster; the load client sends that origin as a browser would.
    STORAGE_DIR: storageDir,
    MAX_UPLOAD_BYTES: String(chaosConfig.maxUploadBytes),
    QUEUE_PREFIX: "chaos",
    LOG_LEVEL: "warn",
    ...chaosConfig.appEnv,
    ...shape.env,
  };
  const cluster = startCluster({
    dir,
    env,
    webPorts,
    workerHealthPorts: healthPorts,
    proxyPort: shape.proxied ? proxyPort! : null,
    log,
  });
  await cluster.ready(90_000);
  log(`${shape.webs} × next start${shape.proxied ? ` behind HAProxy ${cluster.baseUrl}` : ` on ${cluster.baseUrl}`}, ${shape.workers} workers; logs in ${dir}`);

  return {
    dir,
    storageDir,
    baseUrl: cluster.baseUrl,
    databaseUrl,
    postgres,
    redis,
    webs: cluster.webs,
    workers: cluster.workers,
    cluster,
    users,
    async close({ keepDir }) {
      await cluster.stop();
      await redis.close();
      await postgres.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
