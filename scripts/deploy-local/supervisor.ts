/**
 * One app process (a web instance, a worker, HAProxy) under a supervisor, as a process manager would run
 * it: started in its own process group (so SIGKILL reaches every process it spawned), restarted
 * when it exits by itself (a worker that starts while PostgreSQL or Redis is down exits with an
 * error: that is counted, not hidden), and killed with SIGKILL on demand.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

export interface ManagedProcess {
  name: string;
  /** SIGKILL the whole process group; the supervisor starts it again after `restartAfterMs`. */
  kill(restartAfterMs: number): Promise<void>;
  /** Resolves once the process answers its readiness probe. */
  ready(timeoutMs: number): Promise<void>;
  /** Exits the process chose itself (not our SIGKILL), with their codes. */
  selfExits: Array<{ at: number; code: number | null }>;
  starts: number;
  /** The running process's pid (null while it is down): for CPU sampling and logs. */
  pid(): number | null;
  stop(): Promise<void>;
}

export function manage(opts: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
  /** Readiness: resolves true when the process serves. */
  probe: () => Promise<boolean>;
  /** Delay before restarting a process that exited by itself. */
  restartDelayMs: number;
}): ManagedProcess {
  const log: WriteStream = createWriteStream(opts.logFile, { flags: "a" });
  let child: ChildProcess | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const killed = new WeakSet<ChildProcess>();
  const self: ManagedProcess = {
    name: opts.name,
    selfExits: [],
    starts: 0,
    pid: () => child?.pid ?? null,
    async kill(restartAfterMs) {
      const c = child;
      if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
      killed.add(c);
      const exited = new Promise((r) => c.once("exit", r));
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
      schedule(restartAfterMs);
    },
    async ready(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child && (await opts.probe().catch(() => false))) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${opts.name} did not become ready within ${timeoutMs} ms (log: ${opts.logFile})`);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = child;
      if (c?.pid && c.exitCode === null && c.signalCode === null) {
        killed.add(c);
        const exited = new Promise((r) => c.once("exit", r));
        try {
          process.kill(-c.pid, "SIGTERM");
        } catch {
          // gone
        }
        const hard = setTimeout(() => {
          try {
            process.kill(-c.pid!, "SIGKILL");
          } catch {
            // gone
          }
        }, 5000);
        await exited;
        clearTimeout(hard);
      }
      log.end();
    },
  };

  function schedule(ms: number) {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      start();
    }, ms);
  }

  function start() {
    if (stopped || child) return;
    self.starts++;
    log.write(`\n──── ${new Date().toISOString()} start #${self.starts}\n`);
    const c = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    c.stdout!.pipe(log, { end: false });
    c.stderr!.pipe(log, { end: false });
    c.once("exit", (code) => {
      if (child === c) child = null;
      if (killed.has(c) || stopped) return;
      self.selfExits.push({ at: Date.now(), code });
      log.write(`──── exited by itself with code ${code}\n`);
      schedule(opts.restartDelayMs);
    });
  }

  start();
  return self;
}
