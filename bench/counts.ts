/**
 * Counting the work a benchmark's unit costs, not only its time: PostgreSQL statements, round trips
 * and commits, and Redis commands. Unlike wall-clock figures on a shared 2-core machine, these do not
 * swing with the load: they are the design's cost.
 *
 * Three sources, each for what it sees:
 *   - installPgCounter(): patches pg.Client.prototype.query in THIS process (Prisma's pg adapter, the
 *     saga engine's LISTEN client and any pg.Pool all go through it). Counts statements (= round
 *     trips: pg sends one query and waits for its answer), transactions committed (COMMIT, and each
 *     statement outside BEGIN … COMMIT, which autocommits) and, of those, the ones that wrote (the
 *     commits that wait for a WAL flush: the cost DBOS's "one write per step" is about).
 *   - pgStatDatabase(): xact_commit / xact_rollback of a private database from pg_stat_database, the
 *     server's own count across every process (servers under test, child processes). Backends flush
 *     these when they go idle (at most once a second, else after up to 10 s) and when they exit, so
 *     read the delta after the pools that did the work have been closed.
 *   - installRedisCounter() + commandStats(): client round trips in THIS process (a pipeline is one)
 *     and the server's INFO commandstats of a private redis-server (which also counts the commands a
 *     Lua script runs: BullMQ's work is mostly scripts, reported apart).
 */
import pg from "pg";
import { Redis } from "ioredis";

export interface PgCounts {
  statements: number;
  /** Transactions that ended in a commit: explicit COMMITs plus autocommitted single statements. */
  commits: number;
  /** Of those, the ones that wrote (INSERT/UPDATE/DELETE/MERGE or SELECT … FOR UPDATE/NOTIFY). */
  writeCommits: number;
  rollbacks: number;
  /**
   * Of the statements, those sent while another statement of this process was still waiting for
   * its answer: measured one unit at a time, statements − overlapped is the round trips the unit
   * waited on one after the other (its critical path).
   */
  overlapped?: number;
}

const WRITE = /^\s*(insert|update|delete|merge|notify)\b|\b(insert\s+into|update\s+\S+\s+set|delete\s+from)\b|for\s+(no\s+key\s+)?update|select\s+pg_notify/i;

const pgTotals: PgCounts = { statements: 0, commits: 0, writeCommits: 0, rollbacks: 0, overlapped: 0 };
/** Statements sent and not answered yet, across every pg client of this process. */
let pgInFlight = 0;
let pgInstalled = false;

/** Count every statement any pg client of this process sends (idempotent). */
export function installPgCounter(): { snapshot(): PgCounts } {
  if (!pgInstalled) {
    pgInstalled = true;
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    const state = new WeakMap<object, { inTx: boolean; wrote: boolean }>();
    proto.query = function (this: object, ...args: unknown[]) {
      const first = args[0];
      const text = typeof first === "string" ? first : ((first as { text?: string } | null)?.text ?? "");
      const s = state.get(this) ?? { inTx: false, wrote: false };
      state.set(this, s);
      pgTotals.statements += 1;
      const head = text.trimStart().slice(0, 16).toUpperCase();
      if (head.startsWith("BEGIN") || head.startsWith("START TRANSACTION")) {
        s.inTx = true;
        s.wrote = false;
      } else if (head.startsWith("COMMIT")) {
        pgTotals.commits += 1;
        if (s.wrote) pgTotals.writeCommits += 1;
        s.inTx = false;
      } else if (head.startsWith("ROLLBACK") && !head.startsWith("ROLLBACK TO")) {
        pgTotals.rollbacks += 1;
        s.inTx = false;
      } else if (!head.startsWith("SAVEPOINT") && !head.startsWith("RELEASE") && !head.startsWith("ROLLBACK TO")) {
        const writes = WRITE.test(text);
        if (s.inTx) s.wrote ||= writes;
        else {
          pgTotals.commits += 1;
          if (writes) pgTotals.writeCommits += 1;
        }
      }
      if (pgInFlight > 0) pgTotals.overlapped = (pgTotals.overlapped ?? 0) + 1;
      pgInFlight += 1;
      let answered = false;
      const done = () => {
        if (!answered) pgInFlight -= 1;
        answered = true;
      };
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === "function") {
        // pg.Pool#query passes a callback
        args[last] = function (this: unknown, ...results: unknown[]) {
          done();
          return (callback as (...a: unknown[]) => unknown).apply(this, results);
        };
        return original.apply(this, args);
      }
      const returned = original.apply(this, args) as { then?: (ok: () => void, fail: () => void) => unknown } | undefined;
      if (typeof returned?.then === "function") returned.then(done, done);
      else done(); // a submittable (cursor): not tracked
      return returned;
    };
  }
  return { snapshot: () => ({ ...pgTotals }) };
}

export function pgDelta(before: PgCounts, after: PgCounts): PgCounts {
  return {
    statements: after.statements - before.statements,
    commits: after.commits - before.commits,
    writeCommits: after.writeCommits - before.writeCommits,
    rollbacks: after.rollbacks - before.rollbacks,
    overlapped: (after.overlapped ?? 0) - (before.overlapped ?? 0),
  };
}

export interface XactCounts {
  commits: number;
  rollbacks: number;
}

/** The server's own transaction counts for one database (see the note above on when to read). */
export async function pgStatDatabase(adminUrl: string, dbName: string): Promise<XactCounts> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ c: string; r: string }>(
      "SELECT xact_commit AS c, xact_rollback AS r FROM pg_stat_database WHERE datname = $1",
      [dbName],
    );
    return { commits: Number(rows[0]?.c ?? 0), rollbacks: Number(rows[0]?.r ?? 0) };
  } finally {
    await client.end();
  }
}

/** pg_stat_database's delta over `work`, read after `work` (which must close its pools) and a pause. */
export async function measureXacts(adminUrl: string, dbName: string, work: () => Promise<void>): Promise<XactCounts> {
  const before = await pgStatDatabase(adminUrl, dbName);
  await work();
  await new Promise((r) => setTimeout(r, 1200)); // exiting backends report at exit; give them a moment
  const after = await pgStatDatabase(adminUrl, dbName);
  return { commits: after.commits - before.commits, rollbacks: after.rollbacks - before.rollbacks };
}

export interface RedisCounts {
  /** Client round trips from this process (a pipeline or MULTI block is one). */
  roundTrips: number;
  /** Commands sent from this process (each command of a pipeline counts). */
  commands: number;
}

const redisTotals: RedisCounts = { roundTrips: 0, commands: 0 };
const apartTotals: RedisCounts = { roundTrips: 0, commands: 0 };
/** Clients whose commands are counted apart (timers of their own, not the unit's work): see countApart. */
const apartClients = new WeakSet<object>();
let redisInstalled = false;

/** Count the commands every ioredis client of this process sends, BullMQ's included (idempotent). */
export function installRedisCounter(): {
  snapshot(): RedisCounts;
  /** Count this client's commands apart from the unit's (a heartbeat on its own timer, whatever the load). */
  countApart(client: object): void;
  /** What the clients counted apart sent. */
  apartSnapshot(): RedisCounts;
} {
  if (!redisInstalled) {
    redisInstalled = true;
    const proto = Redis.prototype as unknown as { sendCommand: (command: unknown, stream?: { isPipeline?: boolean }) => unknown };
    const original = proto.sendCommand;
    const pipelines = new WeakSet<object>();
    proto.sendCommand = function (this: object, command: unknown, stream?: { isPipeline?: boolean }) {
      const totals = apartClients.has(this) ? apartTotals : redisTotals;
      totals.commands += 1;
      if (stream?.isPipeline) {
        if (!pipelines.has(stream)) {
          pipelines.add(stream);
          totals.roundTrips += 1;
        }
      } else totals.roundTrips += 1;
      return original.call(this, command, stream);
    };
  }
  return {
    snapshot: () => ({ ...redisTotals }),
    countApart: (client) => void apartClients.add(client),
    apartSnapshot: () => ({ ...apartTotals }),
  };
}

export interface CommandStats {
  /** Every command the server ran, including those run inside Lua scripts. */
  total: number;
  /** EVAL/EVALSHA/FCALL calls (each may run many commands inside). */
  scripts: number;
  byCommand: Map<string, number>;
}

/** INFO commandstats of a (private) Redis (an INFO is counted once it has run: see commandDelta). */
export async function commandStats(redis: Redis): Promise<CommandStats> {
  const info = await redis.info("commandstats");
  const byCommand = new Map<string, number>();
  for (const line of info.split("\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) byCommand.set(m[1]!, Number(m[2]));
  }
  let total = 0;
  let scripts = 0;
  for (const [cmd, n] of byCommand) {
    total += n;
    if (/^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/.test(cmd)) scripts += n;
  }
  return { total, scripts, byCommand };
}

/** What ran between two commandStats() reads, less the first read's own INFO. */
export function commandDelta(before: CommandStats, after: CommandStats): CommandStats {
  const byCommand = new Map<string, number>();
  for (const [cmd, n] of after.byCommand) {
    const d = n - (before.byCommand.get(cmd) ?? 0) - (cmd === "info" ? 1 : 0);
    if (d > 0) byCommand.set(cmd, d);
  }
  return { total: after.total - before.total - 1, scripts: after.scripts - before.scripts, byCommand };
}

/** One unit's counts, formatted for a table cell or a line. */
export interface UnitCounts {
  unit: string;
  units: number;
  pg?: PgCounts;
  xacts?: XactCounts;
  redisClient?: RedisCounts;
  redisServer?: CommandStats;
}

const per = (n: number, units: number) => {
  const v = n / units;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
};

/** Per-unit figures as "name: value" pairs (for RESULTS.md and the bench's own output). */
export function perUnit(c: UnitCounts): Record<string, string> {
  const out: Record<string, string> = {};
  if (c.pg) {
    out["PG statements"] = per(c.pg.statements, c.units);
    out["PG commits"] = per(c.pg.commits, c.units);
    out["PG write commits"] = per(c.pg.writeCommits, c.units);
  }
  if (c.xacts) out["PG xact_commit (server)"] = per(c.xacts.commits, c.units);
  if (c.redisClient) {
    out["Redis round trips"] = per(c.redisClient.roundTrips, c.units);
    out["Redis commands sent"] = per(c.redisClient.commands, c.units);
  }
  if (c.redisServer) {
    out["Redis commands (server, scripts' incl.)"] = per(c.redisServer.total, c.units);
    out["Redis scripts"] = per(c.redisServer.scripts, c.units);
  }
  return out;
}

export function formatCounts(c: UnitCounts): string {
  const parts = Object.entries(perUnit(c)).map(([k, v]) => `${k} ${v}`);
  return `per ${c.unit} (${c.units} measured): ${parts.join(", ")}`;
}

/** A markdown table of several units' counts. */
export function countsTable(rows: UnitCounts[]): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(perUnit(r))))];
  return [
    `| per unit | units | ${keys.join(" | ")} |`,
    `|---|---:|${keys.map(() => "---:").join("|")}|`,
    ...rows.map((r) => {
      const p = perUnit(r);
      return `| ${r.unit} | ${r.units} | ${keys.map((k) => p[k] ?? "–").join(" | ")} |`;
    }),
  ].join("\n");
}

/**
 * Goal lines shared by the benchmarks and RESULTS.md: one machine-readable line per goal on stdout,
 * `GOAL|<name>|<measured>|<goal>|met|NOT met`, which bench/run-all.ts collects.
 */
export function goal(name: string, measured: string, target: string, met: boolean): string {
  const line = `GOAL|${name}|${measured}|${target}|${met ? "met" : "NOT met"}`;
  console.log(line);
  return line;
}
