/**
 * The chaos suite's own world: private PostgreSQL and Redis it can kill, the production build under
 * `next start`, two workers, a storage folder, and users created for the run (never the demo seed).
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
import { manage, type ManagedProcess } from "./process";
import { createDatabase, startPrivatePostgres, type PrivatePostgres } from "./postgres";
import { startChaosRedis, type ChaosRedis } from "./redis";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");

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
  web: ManagedProcess;
  workers: ManagedProcess[];
  users: ChaosUser[];
  close(opts: { keepDir: boolean }): Promise<void>;
}

async function httpAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return true; // any answer (503 "degraded" included): the server is serving
  } catch {
    return false;
  }
}

export async function createWorld(log: (line: string) => void): Promise<World> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "metastore-chaos-"));
  const storageDir = path.join(dir, "storage");
  mkdirSync(storageDir, { recursive: true });
  const [pgPort, redisPort, webPort, health1, health2] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);

  const postgres = await startPrivatePostgres({ dir, port: pgPort, log: () => {} });
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

  const redis = await startChaosRedis(redisPort);
  log(`Redis 127.0.0.1:${redisPort} (private, no persistence)`);

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    SESSION_SECRET: "chaos-secret-chaos-secret-chaos-secret-0123",
    COOKIE_SECURE: "false",
    // The public origin (production refuses mutations from other origins); the load client sends it as a browser would.
    APP_ORIGIN: `http://127.0.0.1:${webPort}`,
    STORAGE_DIR: storageDir,
    MAX_UPLOAD_BYTES: String(chaosConfig.maxUploadBytes),
    QUEUE_PREFIX: "chaos",
    LOG_LEVEL: "warn",
    ...chaosConfig.appEnv,
  };
  const web = manage({
    name: "web",
    command: process.execPath,
    args: [path.join(ROOT, "node_modules", "next", "dist", "bin", "next"), "start", "-p", String(webPort), "-H", "127.0.0.1"],
    env: { ...env, PORT: String(webPort), WORKER_HEALTH_PORT: "0", WORKER_METRICS_PORT: "0" },
    cwd: ROOT,
    logFile: path.join(dir, "web.log"),
    probe: () => httpAnswers(`http://127.0.0.1:${webPort}/api/health`),
    restartDelayMs: 500,
  });
  const workers = [health1, health2].map((port, i) =>
    manage({
      name: `worker-${i + 1}`,
      command: process.execPath,
      args: ["--import", "tsx", path.join(ROOT, "worker", "index.ts")],
      // Two workers on one host: no shared metrics port (0: off).
      env: { ...env, WORKER_HEALTH_PORT: String(port), WORKER_METRICS_PORT: "0" },
      cwd: ROOT,
      logFile: path.join(dir, `worker-${i + 1}.log`),
      probe: () => httpAnswers(`http://127.0.0.1:${port}/healthz`),
      restartDelayMs: 1000,
    }),
  );
  await Promise.all([web.ready(60_000), ...workers.map((w) => w.ready(60_000))]);
  log(`next start on 127.0.0.1:${webPort}, 2 workers; logs in ${dir}`);

  return {
    dir,
    storageDir,
    baseUrl: `http://127.0.0.1:${webPort}`,
    databaseUrl,
    postgres,
    redis,
    web,
    workers,
    users,
    async close({ keepDir }) {
      await Promise.all([web.stop(), ...workers.map((w) => w.stop())]);
      await redis.close();
      await postgres.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
