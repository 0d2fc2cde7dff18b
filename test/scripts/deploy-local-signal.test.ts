/**
 * `npm run deploy:local` (scripts/deploy-local.ts) stopped by a signal in its migrate phase must
 * stop that phase's processes and exit non-zero within seconds, leaving no process behind. The
 * phase is held open by a real fault: this test holds Prisma's migrate advisory lock on the
 * deployment's database, so `prisma migrate deploy` waits on it; the signal is sent once PostgreSQL
 * shows that wait (so the whole chain npm → db-migrate → prisma is running). Checked afterwards: the
 * exit code (128 + the signal), the time it took, every process of the phase gone, and no session of
 * the deployment left on its database.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "~test/support/wait-for";

const ROOT = path.resolve(import.meta.dirname, "../..");
// Prisma's migrate lock (pg_advisory_lock(72707369), taken by `prisma migrate deploy`).
const PRISMA_MIGRATE_LOCK = 72707369;
const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const database = `defects_deploy_${randomUUID().slice(0, 8)}`;
const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString();

let locker: pg.Client;
beforeAll(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  locker = new pg.Client({ connectionString: databaseUrl });
  await locker.connect();
});
afterAll(async () => {
  await locker?.end().catch(() => {});
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
});

/** Every process whose parent chain leads to `root` (read from /proc). */
function descendantsOf(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited while we read
    }
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** Alive and not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitingForMigrateLock(): Promise<number> {
  const { rows } = await locker.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted",
    [PRISMA_MIGRATE_LOCK],
  );
  return Number(rows[0]!.n);
}

async function otherSessions(): Promise<number> {
  const { rows } = await locker.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
  );
  return Number(rows[0]!.n);
}

function startDeploy(): { child: ChildProcess; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/deploy-local.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
      QUEUE_PREFIX: `${database}`,
      SESSION_SECRET: randomUUID() + randomUUID(),
      // This suite's own port range (4800-4899): nothing listens there before the cluster phase anyway.
      CLUSTER_PORT: "4820",
      CLUSTER_WEB: "1",
      CLUSTER_WORKERS: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

describe("npm run deploy:local stopped by a signal", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} during the migrate phase stops migrate and exits ${code} within seconds, no process left`, { timeout: 120_000 }, async () => {
      await locker.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK]);
      const deploy = startDeploy();
      let finished = false;
      void deploy.exited.then(() => (finished = true));
      try {
        await waitFor(
          "prisma migrate deploy to wait on the migrate lock",
          async () => {
            if (finished) throw new Error(`deploy:local exited before the migrate phase:\n${deploy.output()}`);
            return (await waitingForMigrateLock()) > 0;
          },
          60_000,
          100,
        );
        const phase = descendantsOf(deploy.child.pid!);
        expect(phase.length).toBeGreaterThanOrEqual(2); // npm and what it runs, at least

        const sentAt = Date.now();
        deploy.child.kill(signal);
        const exit = await deploy.exited;
        const tookMs = Date.now() - sentAt;

        expect(exit, deploy.output()).toEqual({ code, signal: null });
        expect(tookMs).toBeLessThan(10_000);
        // Every process of the phase is gone, and so is its wait on the lock.
        await waitFor("the migrate phase's processes to be gone", async () => phase.every((pid) => !alive(pid)), 3_000, 50).catch(() => {
          throw new Error(`still running after ${signal}: ${phase.filter(alive).join(", ")}\n${deploy.output()}`);
        });
        expect(deploy.output()).toContain(`${signal}: stopping`);
        // PostgreSQL notices a vanished client only once its backend stops waiting on the lock: once
        // the lock is free, no session of the deployment may be left on its database.
        await locker.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK]);
        await waitFor("the deployment's database sessions to end", async () => (await otherSessions()) === 0, 5_000, 50);
      } finally {
        if (!finished) deploy.child.kill("SIGKILL");
        await locker.query("SELECT pg_advisory_unlock_all()");
      }
    });
  }
});
