/**
 * `npm run deploy:local`: MetaStore as several processes on one machine, the way it scales out.
 *   1. .env read and validated like `npm start` (production: the checklist must hold)
 *   2. PostgreSQL and Redis reachable (the same fallbacks as `npm run dev`), database migrated and seeded
 *   3. the production build, made only if the sources changed (scripts/next-build-if-stale.mjs)
 *   4. CLUSTER_WEB web instances (`next start`), CLUSTER_WORKERS workers, and HAProxy in front
 *      (deploy/haproxy.cfg, round robin, health checks on /api/health; Debian's haproxy, installed
 *      with apt-get when missing), each supervised: restarted if it exits by itself
 * Ctrl-C (SIGINT) or SIGTERM, at any phase: stops the running phase's child (migrate, seed, build), or
 * HAProxy, then the instances and workers, then the services it started; exits 130 / 143.
 *
 * Ports: HAProxy on CLUSTER_PORT (default 3520), web instances on the ports after it, worker health
 * on CLUSTER_PORT + 20 onwards, worker /metrics on CLUSTER_PORT + 30 onwards. Logs and the rendered haproxy.cfg in ./.data/cluster/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { startCluster, type Cluster } from "./deploy-local/start-cluster";
import { ensureInfra, type Infra } from "./infra";
import { loadDotEnv, parseStartableEnv } from "./load-env";

const log = (line: string) => console.log(`[cluster] ${line}`);

/**
 * SIGINT/SIGTERM stop the deployment at any phase, and the exit code says it was stopped (128 +
 * the signal's number, as a shell reports it). The handlers are installed before anything starts:
 * a phase's child (migrate, seed, build) runs in a process group of its own, which is sent SIGTERM
 * (SIGKILL after CHILD_STOP_GRACE_MS), then the cluster and the services this run started stop.
 */
const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };
const CHILD_STOP_GRACE_MS = 5_000;
let phaseChild: ChildProcess | null = null;
let infraStarting: Promise<Infra> | null = null;
let cluster: Cluster | null = null;
let stopped: Promise<never> | null = null;

/** Ends the current phase's child and its whole process group; resolves once the child has exited. */
async function stopPhaseChild(): Promise<void> {
  const child = phaseChild;
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const group = -child.pid;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(group, signal);
    } catch {
      // the group is gone already
    }
  };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signalGroup("SIGTERM");
  const timer = setTimeout(() => signalGroup("SIGKILL"), CHILD_STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  signalGroup("SIGKILL"); // whatever of its group outlived it (a grandchild ignoring SIGTERM)
}

/** Stop everything this run started, once, then exit with `code`. */
function stop(code: number): Promise<never> {
  stopped ??= (async () => {
    log("stopping");
    await stopPhaseChild();
    if (cluster) {
      log("stopping HAProxy, web instances and workers");
      await cluster.stop();
    }
    const infra = await infraStarting?.catch(() => null);
    await infra?.stop();
    process.exit(code);
  })();
  return stopped;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (!stopped) log(`${signal}: stopping`);
    void stop(SIGNAL_EXIT_CODES[signal]!);
  });
}

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
infraStarting = ensureInfra(env);
const infra = await infraStarting;
const childEnv = { ...process.env, DATABASE_URL: infra.databaseUrl, REDIS_URL: infra.redisUrl };

/** One phase: a child in its own process group (so a stop reaches all it started), awaited. */
function step(command: string, args: string[]): Promise<void> {
  if (stopped) return stopped;
  return new Promise((resolve, reject) => {
    // No stdin: a process group in the background of a terminal must not read it.
    const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"], env: childEnv, detached: true });
    phaseChild = child;
    child.once("error", reject);
    child.once("exit", (status, signal) => {
      phaseChild = null;
      if (status === 0) resolve();
      else reject(new Error(`${command} ${args.join(" ")} exited with ${signal ?? status}`));
    });
  });
}
try {
  await step("npm", ["run", "--silent", "db:migrate"]);
  await step("npm", ["run", "--silent", "db:seed"]);
  await step(process.execPath, ["scripts/next-build-if-stale.mjs"]);
} catch (error) {
  // A phase ended by a signal: the signal's stop is under way and exits with its code.
  if (!stopped) console.error(`[cluster] ${(error as Error).message}`);
  await stop(1);
}
if (stopped) await stopped;

const dir = path.resolve(".data", "cluster");
mkdirSync(dir, { recursive: true });
cluster = startCluster({
  dir,
  env: childEnv,
  webPorts: Array.from({ length: webs }, (_, i) => proxyPort + 1 + i),
  workerHealthPorts: Array.from({ length: workers }, (_, i) => proxyPort + 20 + i),
  workerMetricsPorts: Array.from({ length: workers }, (_, i) => proxyPort + 30 + i),
  proxyPort,
  log,
});

try {
  await cluster.ready(120_000);
} catch (error) {
  console.error(`[cluster] ${(error as Error).message}`);
  await stop(1);
}
log(`MetaStore on ${env.APP_ORIGIN} (HAProxy) → ${webs} web instances on ${proxyPort + 1}-${proxyPort + webs}, ${workers} workers (health on ${proxyPort + 20}-${proxyPort + 19 + workers}, metrics on ${proxyPort + 30}-${proxyPort + 29 + workers}); logs in ${dir}`);
