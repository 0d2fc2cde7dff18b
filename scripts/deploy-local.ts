/**
 * `npm run deploy:local`: MetaStore as several processes on one machine, the way it scales out.
 *   1. .env read and validated like `npm start` (production: the checklist must hold)
 *   2. PostgreSQL and Redis reachable (the same fallbacks as `npm run dev`), database migrated and seeded
 *   3. the production build, made only if the sources changed (scripts/next-build-if-stale.mjs)
 *   4. CLUSTER_WEB web instances (`next start`), CLUSTER_WORKERS workers, and HAProxy in front
 *      (deploy/haproxy.cfg, round robin, health checks on /api/health; Debian's haproxy, installed
 *      with apt-get when missing), each supervised: restarted if it exits by itself
 * Ctrl-C (SIGTERM) stops HAProxy, then the instances and workers, then the services it started.
 *
 * Ports: HAProxy on CLUSTER_PORT (default 3520), web instances on the ports after it, worker health
 * on CLUSTER_PORT + 20 onwards, worker /metrics on CLUSTER_PORT + 30 onwards. Logs and the rendered haproxy.cfg in ./.data/cluster/.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { startCluster } from "./deploy-local/start-cluster";
import { ensureInfra } from "./infra";
import { loadDotEnv, parseStartableEnv } from "./load-env";

const log = (line: string) => console.log(`[cluster] ${line}`);
const count = (name: string, fallback: number, max: number) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`[cluster] ${name} must be a whole number from 1 to ${max} (got ${process.env[name]})`);
    process.exit(1);
  }
  return n;
};

loadDotEnv("cluster");
const webs = count("CLUSTER_WEB", 3, 19);
const workers = count("CLUSTER_WORKERS", 2, 10);
const proxyPort = count("CLUSTER_PORT", 3520, 65_000);
const origin = `http://127.0.0.1:${proxyPort}`;
// Production, like `npm start`; the public origin is HAProxy's unless APP_ORIGIN says otherwise.
Object.assign(process.env, { NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", TRUST_PROXY: process.env.TRUST_PROXY ?? "1" });
process.env.APP_ORIGIN ??= origin;
const env = await parseStartableEnv("cluster");
const infra = await ensureInfra(env);
const childEnv = { ...process.env, DATABASE_URL: infra.databaseUrl, REDIS_URL: infra.redisUrl };
const step = (command: string, args: string[]) => {
  const r = spawnSync(command, args, { stdio: "inherit", env: childEnv });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${r.status}`);
};
try {
  step("npm", ["run", "--silent", "db:migrate"]);
  step("npm", ["run", "--silent", "db:seed"]);
  step(process.execPath, ["scripts/next-build-if-stale.mjs"]);
} catch (error) {
  console.error(`[cluster] ${(error as Error).message}`);
  await infra.stop();
  process.exit(1);
}

const dir = path.resolve(".data", "cluster");
mkdirSync(dir, { recursive: true });
const cluster = startCluster({
  dir,
  env: childEnv,
  webPorts: Array.from({ length: webs }, (_, i) => proxyPort + 1 + i),
  workerHealthPorts: Array.from({ length: workers }, (_, i) => proxyPort + 20 + i),
  workerMetricsPorts: Array.from({ length: workers }, (_, i) => proxyPort + 30 + i),
  proxyPort,
  log,
});

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  log("stopping HAProxy, web instances and workers");
  await cluster.stop();
  await infra.stop();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  await cluster.ready(120_000);
} catch (error) {
  console.error(`[cluster] ${(error as Error).message}`);
  await stop(1);
}
log(`MetaStore on ${env.APP_ORIGIN} (HAProxy) → ${webs} web instances on ${proxyPort + 1}-${proxyPort + webs}, ${workers} workers (health on ${proxyPort + 20}-${proxyPort + 19 + workers}, metrics on ${proxyPort + 30}-${proxyPort + 29 + workers}); logs in ${dir}`);
