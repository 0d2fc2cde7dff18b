/**
 * A real local PgBouncer (Debian's `pgbouncer`, installed with apt-get when missing) in
 * transaction pooling mode in front of the test PostgreSQL, with a generated ini and userlist in a
 * temp dir. Any database name is passed through to the same server (`* =` fallback entry).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import os from "node:os";
import path from "node:path";

export interface LocalPgBouncer {
  port: number;
  /** `postgresql://<user>@127.0.0.1:<port>/<database>`: the pooler's URL for that database. */
  urlFor(database: string): string;
  /** The admin console (`SHOW POOLS`, `SHOW STATS`): the pseudo-database "pgbouncer". */
  adminUrl: string;
  stop(): Promise<void>;
}

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"];

/** The pgbouncer binary; installed from Debian's archive when missing (CI starts from a fresh machine). */
export function ensurePgBouncerBinary(): string {
  const found = () => CANDIDATES.find((p) => existsSync(p)) ?? (spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" }).stdout.trim() || null);
  let binary = found();
  if (binary) return binary;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let install = spawnSync("apt-get", ["install", "-y", "pgbouncer"], { stdio: "inherit", env });
  if (install.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit", env });
    install = spawnSync("apt-get", ["install", "-y", "pgbouncer"], { stdio: "inherit", env });
  }
  binary = found();
  if (!binary) throw new Error("pgbouncer is not installed and `apt-get install -y pgbouncer` failed (install it: sudo apt-get install pgbouncer)");
  return binary;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

export async function startPgBouncer(opts: { port: number; serverHost?: string; serverPort?: number; user?: string; poolSize?: number }): Promise<LocalPgBouncer> {
  const binary = ensurePgBouncerBinary();
  if (await listening(opts.port)) throw new Error(`port ${opts.port} is in use (a pgbouncer left by an earlier run?); stop it or set PGBOUNCER_PORT`);
  const user = opts.user ?? "postgres";
  const dir = mkdtempSync(path.join(os.tmpdir(), "metastore-pgbouncer-"));
  const asRoot = process.getuid?.() === 0;
  // Run as root, pgbouncer drops to the postgres user (-u), which reads the ini and writes its log and pid file here.
  chmodSync(dir, asRoot ? 0o777 : 0o755);
  const ini = path.join(dir, "pgbouncer.ini");
  writeFileSync(path.join(dir, "userlist.txt"), `"${user}" ""\n`, { mode: 0o644 });
  writeFileSync(
    ini,
    [
      "[databases]",
      // Every database name goes to the same server: test databases are created per test file.
      `* = host=${opts.serverHost ?? "127.0.0.1"} port=${opts.serverPort ?? 5432}`,
      "",
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${opts.port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${path.join(dir, "userlist.txt")}`,
      `admin_users = ${user}`,
      `stats_users = ${user}`,
      // The mode that breaks session state: a server connection is the client's for one transaction only.
      "pool_mode = transaction",
      `default_pool_size = ${opts.poolSize ?? 20}`,
      "max_client_conn = 1000",
      "max_db_connections = 0",
      // Test databases are dropped WITH (FORCE): give up on a dead server connection quickly.
      "server_login_retry = 1",
      "server_reset_query =",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      `pidfile = ${path.join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  const child: ChildProcess = spawn(binary, [...(asRoot ? ["-u", "postgres"] : []), ini], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const killOnExit = () => child.exitCode === null && child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const deadline = Date.now() + 10_000;
  while (!(await listening(opts.port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = existsSync(path.join(dir, "pgbouncer.log")) ? readFileSync(path.join(dir, "pgbouncer.log"), "utf8") : "";
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start on port ${opts.port}:\n${stderr}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: opts.port,
    urlFor: (database) => `postgresql://${user}@127.0.0.1:${opts.port}/${encodeURIComponent(database)}`,
    adminUrl: `postgresql://${user}@127.0.0.1:${opts.port}/pgbouncer`,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
