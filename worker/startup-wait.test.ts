/**
 * A worker started while PostgreSQL or Redis is down waits for it (a log line per try) and starts
 * once it answers: the real worker process (`worker/index.ts`) pointed at a loopback port where
 * nothing listens; then a TCP forwarder opens that port onto the real server, and the worker's
 * /healthz turns 200 (its heartbeat job ran, so BullMQ and PostgreSQL are in use).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";

const ROOT = path.resolve(import.meta.dirname, "..");
/** This test's private ports (the scale range 4800-4999). */
const CLOSED_PORT = 4860;
const HEALTH_PORT = 4862;

let app: TestApp;
let worker: ChildProcess | null = null;
let forwarder: { server: Server; sockets: Set<Socket> } | null = null;
let log = "";

/** Opens `port` on 127.0.0.1 and pipes every connection to `target` (the dependency "comes back"). */
function forward(port: number, target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise<typeof forwarder>((resolve) => server.listen(port, "127.0.0.1", () => resolve({ server, sockets })));
}

async function health(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${HEALTH_PORT}/healthz`).catch(() => null);
  return res?.status ?? 0;
}

function startWorker(env: { DATABASE_URL: string; REDIS_URL: string }) {
  log = "";
  worker = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "worker", "index.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      NODE_ENV: "test",
      QUEUE_PREFIX: app.prefix,
      STORAGE_DIR: app.storageDir,
      SESSION_SECRET: "startup-test-secret-startup-test-secret",
      LOG_LEVEL: "info",
      WORKER_HEALTH_PORT: String(HEALTH_PORT),
      WORKER_METRICS_PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  worker.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  worker.stderr!.on("data", (d: Buffer) => (log += d.toString()));
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; worker log:\n${log.slice(-3000)}`);
    if (worker?.exitCode !== null) throw new Error(`the worker exited (${worker?.exitCode}) while waiting for ${what}; log:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  app = await createTestApp();
});

afterEach(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker!.once("exit", r));
    worker.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (worker.exitCode === null) worker.kill("SIGKILL");
  }
  worker = null;
  if (forwarder) {
    for (const s of forwarder.sockets) s.destroy();
    await new Promise((r) => forwarder!.server.close(r));
    forwarder = null;
  }
});

afterAll(async () => {
  await app?.close();
});

describe("worker start while a dependency is down", () => {
  const redis = new URL(TEST_REDIS_URL);
  const cases = [
    {
      name: "PostgreSQL",
      env: () => ({ DATABASE_URL: app.databaseUrl.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${CLOSED_PORT}`), REDIS_URL: TEST_REDIS_URL }),
      target: () => ({ host: "127.0.0.1", port: Number(new URL(app.databaseUrl).port || 5432) }),
    },
    {
      name: "Redis",
      env: () => ({ DATABASE_URL: app.databaseUrl, REDIS_URL: `redis://127.0.0.1:${CLOSED_PORT}` }),
      target: () => ({ host: redis.hostname, port: Number(redis.port || 6379) }),
    },
  ];
  it.each(cases)("waits for $name, saying so, and starts when it comes back", async ({ name, env, target }) => {
    startWorker(env());
    await until(`a "${name} is not reachable yet" line`, () => (log.match(new RegExp(`${name} is not reachable yet`, "g")) ?? []).length >= 2);
    // Still waiting, still alive, nothing started.
    expect(worker!.exitCode).toBeNull();
    expect(log).not.toContain("worker started");
    expect(await health()).toBe(0);

    forwarder = await forward(CLOSED_PORT, target());
    await until("/healthz to answer 200", async () => (await health()) === 200);
    expect(log).toContain(`${name} is reachable: starting`);
    expect(log).toContain("worker started");
    // The worker's own start (tsx, imports) on a busy machine, its retry pause (at most 10 s) and the heartbeat.
  }, 150_000);
});
