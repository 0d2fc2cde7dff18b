/**
 * npm run bench:saga — what the saga orchestrator costs over a bare BullMQ chain.
 *
 * In one run, against a dedicated PostgreSQL database (created and migrated here) and Redis:
 *   - bare chain   5 BullMQ jobs per chain, each job queuing the next (no database): the floor
 *   - saga         5-step sagas with no-op step bodies through the real engine and runner: every
 *                  step is claimed (row lock + lease), finished with a version-guarded UPDATE,
 *                  and the next step queued as a BullMQ job
 * Both use one worker in this process with the same concurrency. Two loads: BENCH_SAGAS
 * chains/sagas started at once (throughput = count / wall time until the last is done; latency is
 * then mostly backlog), and a light load of BENCH_LIGHT_IN_FLIGHT in flight (closed loop,
 * BENCH_LIGHT_COUNT in all) where dispatch latency is the machinery's own.
 * Step dispatch latency = from queuing a step's job to its body starting (for sagas this includes
 * the claim statement). Prints a markdown table and the targets of issue 6, the counts per unit
 * (bench/counts.ts) and the CPU each unit cost in this process, the private redis-server and the
 * PostgreSQL backends (less swayed by other work on the machine than the wall clock).
 *
 * Env: BENCH_SAGAS (default 2000), BENCH_CONCURRENCY (default 16), BENCH_WARMUP (default 200),
 * BENCH_LIGHT_IN_FLIGHT (default 4), BENCH_LIGHT_COUNT (default 300); BENCH_QUICK=1 for 400/50/80;
 * BENCH_SAGA_DB names the database (default metastore_bench_saga).
 *
 * BENCH_SAGA_WHATIF=1 (off by default; it adds one more saga scenario, ~10–20 s at the default size):
 * a WHAT-IF row, not the product. The all-at-once saga scenario runs again with the bench's own
 * database set to synchronous_commit = off (ALTER DATABASE on that database only, which the bench
 * drops at the end), so each step's commit no longer waits for its WAL flush. It prints what the
 * flush costs per step and whether the CPU ratio would meet the goal without it. The app keeps
 * synchronous commits: a step's finish must survive a crash once the next step is queued.
 */
import { randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { z } from "zod";
import { createDb, type Db } from "../src/server/platform/db/client";
import { createSagaRegistry, defineSaga } from "../src/server/reliability/saga/definition";
import { createSagaEngine } from "../src/server/reliability/saga/engine";
import { createBullSagaDispatcher, stepJobId } from "../src/server/reliability/saga/step-queue";
import { bullmqConnection } from "../src/server/platform/redis";
import { startSagaRunner } from "../worker/jobs/saga-runner";
import { commandDelta, commandStats, countsTable, goal, installPgCounter, installRedisCounter, measureXacts, pgDelta, type UnitCounts } from "./counts";
import { benchDatabase, benchRedis, PG_ADMIN, percentile } from "./support";
import { cpuTable, pgBackendCpuMs, redisCpuMs, type CpuMs } from "./support/cpu-per-unit";

const DB_NAME = process.env.BENCH_SAGA_DB ?? "metastore_bench_saga";
const database = benchDatabase(DB_NAME);
const DATABASE_URL = database.url;
let REDIS_URL = "";
const PREFIX = `bench-saga-${randomUUID().slice(0, 8)}`;
// BENCH_QUICK=1: the small sizes of `BENCH_QUICK=1 npm run bench` (bench/run-all.ts) when run alone.
const QUICK = process.env.BENCH_QUICK === "1";
const COUNT = Number(process.env.BENCH_SAGAS ?? (QUICK ? 400 : 2000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WARMUP = Number(process.env.BENCH_WARMUP ?? (QUICK ? 50 : 200));
const STEPS = 5;
const LIGHT = Number(process.env.BENCH_LIGHT_IN_FLIGHT ?? 4);
const LIGHT_COUNT = Number(process.env.BENCH_LIGHT_COUNT ?? (QUICK ? 80 : 300));
const WHATIF = process.env.BENCH_SAGA_WHATIF === "1";

const log = (msg: string) => process.stderr.write(`[bench:saga] ${msg}\n`);
let connection: ReturnType<typeof bullmqConnection>;
const pgCounter = installPgCounter();
const redisCounter = installRedisCounter();
/** The counts of the last measured scenario (filled by counted()). */
const counts: UnitCounts[] = [];

/**
 * CPU time a scenario cost, per process kind: on a shared 2-core machine the wall clock swings 2–3×
 * with other work, the CPU each unit burns much less. This process (runner + starter), the private
 * redis-server (INFO cpu), and the PostgreSQL backends serving the scenario's pools (/proc of the
 * pids pg_stat_activity lists for the bench's database, read just before the pools close).
 */
const cpuRows: Array<{ unit: string; units: number; cpu: CpuMs }> = [];
/** Filled by sagaRun just before its pools close (their backends exit with them). */
let lastPgBackendCpuMs = 0;

/** Run one scenario and record what it cost per unit (pg statements/commits, Redis round trips and commands). */
async function counted<T extends Result>(unit: string, units: (r: T) => number, run: () => Promise<T>): Promise<T> {
  const admin = new Redis(REDIS_URL);
  const pgBefore = pgCounter.snapshot();
  const subBefore = { ...pgSubtract };
  const rBefore = redisCounter.snapshot();
  const sBefore = await commandStats(admin);
  const redisCpuBefore = await redisCpuMs(admin);
  const nodeCpuBefore = process.cpuUsage();
  lastPgBackendCpuMs = 0;
  let result!: T;
  const xacts = await measureXacts(PG_ADMIN, DB_NAME, async () => {
    result = await run();
  });
  const nodeCpu = process.cpuUsage(nodeCpuBefore);
  const redisCpu = (await redisCpuMs(admin)) - redisCpuBefore;
  const sAfter = await commandStats(admin);
  const rAfter = redisCounter.snapshot();
  await admin.quit();
  const pgc = pgDelta(pgBefore, pgCounter.snapshot());
  const probes = { statements: pgSubtract.statements - subBefore.statements, commits: pgSubtract.commits - subBefore.commits };
  pgc.statements -= probes.statements;
  pgc.commits -= probes.commits;
  xacts.commits -= probes.commits;
  cpuRows.push({
    unit: `${unit} (${result.name})`,
    units: units(result),
    cpu: { node: (nodeCpu.user + nodeCpu.system) / 1000, redis: redisCpu, pg: lastPgBackendCpuMs },
  });
  counts.push({
    unit: `${unit} (${result.name})`,
    units: units(result),
    pg: pgc.statements ? pgc : undefined,
    xacts: pgc.statements ? xacts : undefined,
    redisClient: { roundTrips: rAfter.roundTrips - rBefore.roundTrips, commands: rAfter.commands - rBefore.commands },
    redisServer: commandDelta(sBefore, sAfter),
  });
  return result;
}




interface Result {
  name: string;
  count: number;
  seconds: number;
  latencies: number[];
}

/** The floor: chains of 5 plain BullMQ jobs, each queuing the next. */
async function bareChain(count: number, prefix: string, inFlight?: number): Promise<Result> {
  const queue = new Queue("bench-chain", { connection, prefix });
  const latencies: number[] = [];
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = new Worker(
    "bench-chain",
    async (job) => {
      latencies.push(Date.now() - (job.data.queuedAt as number));
      const { chain, step } = job.data as { chain: string; step: number };
      if (step + 1 < STEPS) {
        await queue.add("step", { chain, step: step + 1, queuedAt: Date.now() }, { jobId: `${chain}_${step + 1}`, removeOnComplete: true, removeOnFail: true });
      } else {
        if (++done === count) resolveAll();
        else if (inFlight && started < count) await startChains(1);
      }
    },
    { connection, prefix, concurrency: CONCURRENCY },
  );
  let started = 0;
  async function startChains(n: number) {
    started += n;
    const batch = Array.from({ length: n }, () => {
      const chain = randomUUID();
      return { name: "step", data: { chain, step: 0, queuedAt: Date.now() }, opts: { jobId: `${chain}_0`, removeOnComplete: true, removeOnFail: true } };
    });
    await queue.addBulk(batch);
  }
  await worker.waitUntilReady();
  const t0 = performance.now();
  if (inFlight) await startChains(Math.min(inFlight, count));
  else for (let i = 0; i < count; i += 200) await startChains(Math.min(200, count - i));
  await all;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  return { name: `bare BullMQ chain (5 jobs)${inFlight ? `, ${inFlight} in flight` : ", all at once"}`, count, seconds, latencies };
}

/** The saga engine: 5 no-op steps through the real runner. */
async function sagaRun(count: number, prefix: string, inFlight?: number): Promise<Result> {
  // Its own pool, closed at the end: PostgreSQL reports a backend's transactions when it exits.
  const db: Db = createDb(DATABASE_URL, { max: CONCURRENCY + 4 });
  const latencies: number[] = [];
  const queuedAt = new Map<string, number>();
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const registry = createSagaRegistry([
    defineSaga({
      type: "bench.five",
      input: z.object({}),
      steps: Array.from({ length: STEPS }, (_, i) => ({
        name: `noop-${i}`,
        async execute(ctx) {
          const id = stepJobId({ sagaId: ctx.sagaId, sagaType: "bench.five", phase: "execute", stepIndex: i, generation: 0 });
          const at = queuedAt.get(id);
          if (at !== undefined && ctx.attempt === 1) latencies.push(Date.now() - at);
          queuedAt.delete(id);
          if (i === STEPS - 1) {
            if (++done === count) setImmediate(resolveAll);
            else if (inFlight && started < count) startOne();
          }
          return null;
        },
        async compensate() {},
      })),
    }),
  ]);
  const runner = await startSagaRunner({ connection, prefix, db, databaseUrl: DATABASE_URL, registry, logger: pino({ level: "warn" }), concurrency: CONCURRENCY });
  // Time every step's queuing (the first by the starter, the rest by the runner's engine): both
  // go through the runner's Queue object, so wrap its add.
  const queue = runner.queue as Queue;
  const add = queue.add.bind(queue);
  queue.add = ((name: string, data: { sagaId: string; stepIndex: number; phase: "execute" }, opts?: object) => {
    queuedAt.set(stepJobId({ ...data, sagaType: "bench.five", generation: 0 }), Date.now());
    return add(name, data as never, opts as never);
  }) as typeof queue.add;
  const starter = createSagaEngine({ db, registry, dispatcher: createBullSagaDispatcher(queue) });
  let started = 0;
  const startOne = () => {
    started += 1;
    void starter.startSaga("bench.five", {}).catch((err) => log(`start failed: ${err}`));
  };
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  if (inFlight) for (let i = 0; i < Math.min(inFlight, count); i += 1) startOne();
  else
    for (let i = 0; i < count; i += 50) {
      started += Math.min(50, count - i);
      await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => starter.startSaga("bench.five", {})));
    }
  await all;
  // The last step's body has run; wait for its finish to commit. The probe is the bench's own
  // work, not the saga's: its statements are taken back out of the counts below.
  let completed = 0;
  const probe = new pg.Client({ connectionString: DATABASE_URL });
  await probe.connect();
  let probes = 0;
  const countCompleted = async () => {
    probes += 1;
    return Number((await probe.query<{ n: string }>("SELECT count(*) AS n FROM saga_instance WHERE status = 'completed'")).rows[0]!.n);
  };
  while ((completed = await countCompleted()) < count) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - t0) / 1000;
  // Includes the pools' connecting and the warm statements' planning: the same for every scenario.
  lastPgBackendCpuMs = await pgBackendCpuMs(probe, DB_NAME);
  probes += 1;
  await probe.query("TRUNCATE saga_instance CASCADE");
  await probe.end();
  uncount(probes + 1);
  await queue.obliterate({ force: true }).catch(() => {});
  await runner.close();
  await db.$disconnect();
  return { name: `saga orchestrator (5 steps)${inFlight ? `, ${inFlight} in flight` : ", all at once"}`, count: completed, seconds, latencies };
}

/** Take the bench's own probe statements (autocommitted reads) back out of the pg counts. */
function uncount(statements: number) {
  pgSubtract.statements += statements;
  pgSubtract.commits += statements;
}
const pgSubtract = { statements: 0, commits: 0 };

function row(r: Result) {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return { rate: r.count / r.seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function main() {
  const redisServer = await benchRedis();
  REDIS_URL = redisServer.url;
  connection = bullmqConnection(REDIS_URL);
  log(`database ${DB_NAME}, private Redis ${REDIS_URL}, ${COUNT} per scenario, concurrency ${CONCURRENCY}`);
  await database.recreate();
  try {
    log("warm-up");
    await bareChain(WARMUP, `${PREFIX}-w1`);
    await sagaRun(WARMUP, `${PREFIX}-w2`);
    const perChain = (r: Result) => r.count;
    const perStep = (r: Result) => r.count * STEPS;
    log("bare chain, all at once");
    const bare = await counted("job", perStep, () => bareChain(COUNT, `${PREFIX}-bare`));
    log("sagas, all at once");
    const saga = await counted("saga step", perStep, () => sagaRun(COUNT, `${PREFIX}-saga`));
    // Light load: a few chains/sagas in flight, so dispatch latency is the machinery, not a backlog.
    log(`bare chain, ${LIGHT} in flight`);
    const bareLight = await counted("job", perStep, () => bareChain(LIGHT_COUNT, `${PREFIX}-bare-light`, LIGHT));
    log(`sagas, ${LIGHT} in flight`);
    const sagaLight = await counted("saga step", perStep, () => sagaRun(LIGHT_COUNT, `${PREFIX}-saga-light`, LIGHT));
    void perChain;
    const whatIf = WHATIF ? await whatIfNoFlush(() => counted("saga step", perStep, () => sagaRun(COUNT, `${PREFIX}-saga-whatif`))) : undefined;
    const b = row(bare);
    const s = row(saga);
    const lines = [
      `| scenario | completed | wall time (s) | completed per s | step dispatch p50 (ms) | step dispatch p99 (ms) |`,
      `|---|---:|---:|---:|---:|---:|`,
      ...[
        [bare, b],
        [saga, s],
        [bareLight, row(bareLight)],
        [sagaLight, row(sagaLight)],
      ].map(([r, x]) => {
        const res = r as Result;
        const m = x as ReturnType<typeof row>;
        return `| ${res.name} | ${res.count} | ${res.seconds.toFixed(2)} | ${m.rate.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} |`;
      }),
      "",
      "What each unit cost (PG: statements, commits and write commits counted in this process's pg clients; xact_commit from pg_stat_database of the bench's database; Redis: client round trips from this process, and commands on the bench's private redis-server, including those BullMQ's Lua scripts run):",
      "",
      countsTable(counts),
      "",
      "CPU per unit (µs; this process = the runner and the starter, or the bare worker; the private redis-server; the PostgreSQL backends serving the scenario):",
      "",
      cpuTable(cpuRows, "this process"),
    ];
    console.log(lines.join("\n"));
    const ratio = s.rate / b.rate;
    console.log(`\n${await hotUpdates()}`);
    if (whatIf) console.log(`\n${whatIfReport(bare, saga, whatIf)}`);
    console.log(`\nsaga / bare chain: ${(ratio * 100).toFixed(0)}%; sagas per second: ${s.rate.toFixed(0)}; ${STEPS} steps each, concurrency ${CONCURRENCY}, ${os()}`);
    const sagaCounts = counts.find((c) => c.unit.includes("all at once") && c.unit.startsWith("saga step"))!;
    const writeCommitsPerStep = sagaCounts.pg!.writeCommits / sagaCounts.units;
    goal("sagas (5 no-op steps) vs a bare BullMQ chain of 5 jobs, all at once", `${(ratio * 100).toFixed(0)}%`, "≥ 33%", ratio >= 0.33);
    // The start is one commit per saga (saga row + step 0's lease, one statement); in the app it joins
    // the request's own transaction. DBOS likewise writes a workflow row before its steps.
    const perStepNoStart = (sagaCounts.pg!.writeCommits - sagaCounts.units / STEPS) / sagaCounts.units;
    goal("PostgreSQL write commits per saga step (the start's one commit per saga counted apart)", perStepNoStart.toFixed(2), "≤ 1", perStepNoStart <= 1.0001);
    goal("PostgreSQL write commits per saga step, start included (5-step saga)", writeCommitsPerStep.toFixed(2), "≤ 1.2 (n+1 over n)", writeCommitsPerStep <= 1.2001);
  } finally {
    await database.drop();
    await redisServer.close();
  }
}

/**
 * How many of the run's UPDATEs of the saga tables were HOT (a new row version on the same page,
 * no index entries written): a step's UPDATE that changes an indexed column, or finds its page
 * full, writes every index of the table. Over the whole run (warm-up and both saga scenarios);
 * PostgreSQL counts them as each backend ends, and every pool is closed by now.
 */
async function hotUpdates(): Promise<string> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ relname: string; upd: string; hot: string }>(
      "SELECT relname, n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname IN ('saga_instance', 'saga_step_log') ORDER BY relname",
    );
    const parts = rows.map((r) => `${r.relname} ${r.hot} of ${r.upd} (${Number(r.upd) ? ((100 * Number(r.hot)) / Number(r.upd)).toFixed(0) : "0"}%)`);
    return `HOT updates over the run: ${parts.join("; ")}`;
  } finally {
    await client.end();
  }
}

/** Run `scenario` with the bench database's commits not waiting for their WAL flush (new sessions only). */
async function whatIfNoFlush(scenario: () => Promise<Result>): Promise<Result> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  try {
    log("WHAT-IF: sagas, all at once, bench database at synchronous_commit = off");
    await admin.query(`ALTER DATABASE "${DB_NAME}" SET synchronous_commit = off`);
    const r = await scenario();
    r.name += ", WHAT-IF synchronous_commit=off";
    // The row's name is the counted() unit too: rename it there so the tables say what it is.
    for (const list of [counts, cpuRows]) list[list.length - 1]!.unit = `saga step (${r.name})`;
    return r;
  } finally {
    await admin.query(`ALTER DATABASE "${DB_NAME}" RESET synchronous_commit`).catch(() => {});
    await admin.end();
  }
}

/** What the commit's flush costs per step, and the CPU ratio bare/saga with and without it. */
function whatIfReport(bare: Result, saga: Result, whatIf: Result): string {
  const cpuOf = (r: Result) => cpuRows.find((c) => c.unit.endsWith(`(${r.name})`))!;
  const perStepUs = (r: Result) => {
    const c = cpuOf(r);
    return { node: (c.cpu.node * 1000) / c.units, redis: (c.cpu.redis * 1000) / c.units, pg: (c.cpu.pg * 1000) / c.units };
  };
  const total = (x: CpuMs) => x.node + x.redis + x.pg;
  const [bb, on, off] = [perStepUs(bare), perStepUs(saga), perStepUs(whatIf)];
  const fmt = (x: CpuMs) => `${x.node.toFixed(0)} / ${x.redis.toFixed(0)} / ${x.pg.toFixed(0)} = ${total(x).toFixed(0)}`;
  return [
    "WHAT-IF (diagnostic, not the product: the app commits synchronously): the same saga scenario with the bench database at synchronous_commit = off.",
    `CPU per step µs (this process / redis-server / PostgreSQL = total): commits flushed ${fmt(on)}; not flushed ${fmt(off)}; bare job ${total(bb).toFixed(0)}.`,
    `The flush costs ${(total(on) - total(off)).toFixed(0)} µs per step (PostgreSQL backends ${(on.pg - off.pg).toFixed(0)} µs; not counted: the WAL writer, which flushes in their place when commits do not wait, and is shared by the whole server). CPU ratio bare/saga: ${((100 * total(bb)) / total(on)).toFixed(1)}% flushed, ${((100 * total(bb)) / total(off)).toFixed(1)}% not (goal ≥ 33% needs ≤ ${(total(bb) / 0.33).toFixed(0)} µs per step).`,
    `Throughput saga / bare: ${((100 * row(saga).rate) / row(bare).rate).toFixed(0)}% flushed, ${((100 * row(whatIf).rate) / row(bare).rate).toFixed(0)}% not (wall clock; noisy here).`,
  ].join("\n");
}

function os() {
  return `node ${process.version}, ${cpus().length} CPUs`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
