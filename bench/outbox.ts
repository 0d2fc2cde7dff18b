/**
 * npm run bench:outbox — three ways of getting committed outbox events into BullMQ, in one run, on
 * one dedicated database (created and migrated here, dropped after) and the shared Redis (own prefix):
 *   (a) baseline poller like the original design: poll every 5 s, one batch (500) per poll
 *   (b) the bare floor: a plain script running the same claim SQL on a pg pool and calling addBulk
 *       in a tight loop (no NOTIFY, no leases handling, no backoff, no Prisma)
 *   (c) MetaStore's relay (worker/jobs/outbox-relay.ts): NOTIFY + 5 s poll fallback, leases
 * Each runs in its own child process (as in production, apart from the writer), one at a time.
 * Measured for each:
 *   - commit→enqueued events/s: the relay is started and idle; a backlog of N events commits in ONE
 *     transaction at t0; rate = N / (last job's enqueue time − t0). (BullMQ stamps each job when it
 *     is added, in the relay's process; same machine clock.)
 *   - end-to-end events/s: the same, with MetaStore's consumer worker running (a no-op handler, but
 *     the full path: inbox row + consumed marking); rate = N / (last inbox row − t0).
 *   - latency at a fixed offered load: a writer commits 1,000 events/s (each its own transaction
 *     through appendEvent, i.e. the real write path) for BENCH_SECONDS; per event, enqueue time −
 *     commit time (taken when the commit returned); p50/p99 over events enqueued by the end.
 * Env: BENCH_EVENTS (backlog for b and c, default 20000), BENCH_SECONDS (latency run, default 10),
 * BENCH_ONLY (variants, default abcq: q = the BullMQ-alone reference). BENCH_QUICK=1: the sizes
 * `npm run bench` uses for a smoke run (3,000 events, 3 s, variants b, c and q).
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { createDb, type Db } from "../src/server/platform/db/client";
import { QueueName } from "../src/server/contracts/queues";
import { redisConnectionOptions } from "../src/server/platform/redis";
import { commandDelta, commandStats, countsTable, goal, installPgCounter, measureXacts, type PgCounts, type RedisCounts, type UnitCounts } from "./counts";
import { adminQuery, benchRedis } from "./support";
import { startBenchChild, stopBenchChild } from "./support/child-process";
import { cpuTable, ownCpuMs, pgBackendCpu, pgCpuBetween, procCpuMs, redisCpuMs, type CpuMs } from "./support/cpu-per-unit";
import { offerEvents, waitUntil } from "./support/outbox-load";
import { clearPrefix } from "./support/redis-prefix";

const parentPg = installPgCounter();
const counts: UnitCounts[] = [];
/** CPU per unit by process kind (bench/support/cpu-per-unit.ts): stable where the wall clock swings. */
const cpuRows: Array<{ unit: string; units: number; cpu: CpuMs }> = [];
/** outbox_event updates (row versions) per event end to end, and the HOT share. */
const tupleRows: string[] = [];

/** Cumulative row updates of outbox_event (all backends' flushed statistics). */
async function outboxTupleWrites(db: Db): Promise<{ upd: number; hot: number }> {
  await new Promise((r) => setTimeout(r, 1100)); // backends flush their table statistics about once a second
  const [row] = await db.$queryRawUnsafe<Array<{ upd: bigint; hot: bigint }>>(
    "SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'outbox_event'",
  );
  return { upd: Number(row?.upd ?? 0), hot: Number(row?.hot ?? 0) };
}
/** This process's own connections (writer, progress probes): left out of the PostgreSQL CPU. */
const PARENT_APP = "bench-outbox-parent";
type ChildCounts = { pg: PgCounts; redis: RedisCounts };
const addCounts = (a: ChildCounts, b: ChildCounts): ChildCounts => ({
  pg: { statements: a.pg.statements + b.pg.statements, commits: a.pg.commits + b.pg.commits, writeCommits: a.pg.writeCommits + b.pg.writeCommits, rollbacks: a.pg.rollbacks + b.pg.rollbacks },
  redis: { roundTrips: a.redis.roundTrips + b.redis.roundTrips, commands: a.redis.commands + b.redis.commands },
});

const ROOT = path.resolve(import.meta.dirname, "..");
const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const DB_NAME = process.env.BENCH_DB_NAME ?? "metastore_bench_outbox";
const DATABASE_URL = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${DB_NAME}`);
let REDIS_URL = "";
const QUICK = process.env.BENCH_QUICK === "1";
const EVENTS = Number(process.env.BENCH_EVENTS ?? (QUICK ? 3000 : 20_000));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 3 : 10));
const RATE = 1000;

const log = (msg: string) => process.stderr.write(`[bench:outbox] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function migrate() {
  const hasScript = spawnSync("npm", ["pkg", "get", "scripts.db:migrate"], { cwd: ROOT, encoding: "utf8" }).stdout.trim() !== "{}";
  const [cmd, args] = hasScript ? ["npm", ["run", "db:migrate"]] : ["node", ["scripts/prisma.mjs", "migrate", "deploy"]];
  const r = spawnSync(cmd, args as string[], { cwd: ROOT, env: { ...process.env, DATABASE_URL }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`migration failed:\n${r.stdout}\n${r.stderr}`);
}

/** Start a bench role in its own process; resolves when it says READY. */
async function startRole(role: string, prefix: string) {
  const { child, output } = await startBenchChild("bench/outbox-runner.ts", { ...process.env, ROLE: role, DATABASE_URL, REDIS_URL, PREFIX: prefix }, role);
  return {
    /** CPU ms the process has used so far. */
    cpuMs: () => procCpuMs(child.pid!),
    /** Stops the role; resolves to what it cost (its own pg and Redis counters). */
    async stop(): Promise<ChildCounts> {
      await stopBenchChild(child);
      const m = /COUNTS (\{.*\})/.exec(output());
      return m ? (JSON.parse(m[1]!) as ChildCounts) : { pg: { statements: 0, commits: 0, writeCommits: 0, rollbacks: 0 }, redis: { roundTrips: 0, commands: 0 } };
    },
  };
}

async function reset(db: Db) {
  await db.$executeRawUnsafe("TRUNCATE outbox_event, outbox_aggregate, inbox_entry CASCADE");
}

/** N file.tagged events of N distinct files, committed in one transaction; returns the commit time. */
async function commitBacklog(db: Db, n: number): Promise<number> {
  await db.$executeRawUnsafe(
    `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload)
     SELECT gen_random_uuid(), 'file', a.id::text, 1, 'file.tagged', jsonb_build_object('fileId', a.id, 'ownerId', a.id, 'tags', '[]'::jsonb)
     FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $1::int)) a`,
    n,
  );
  return Date.now();
}

/** When BullMQ added each job (ms), read straight from the job hashes. */
async function enqueueTimes(redis: Redis, prefix: string, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    const pipe = redis.pipeline();
    for (const id of chunk) pipe.hget(`${prefix}:${QueueName.outboxEvents}:${id}`, "timestamp");
    const res = (await pipe.exec()) ?? [];
    res.forEach(([, v], j) => {
      if (v) out.set(chunk[j]!, Number(v));
    });
  }
  return out;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);

interface Result {
  label: string;
  enqueuedPerSec: number;
  e2ePerSec: number;
  p50: number;
  p99: number;
  e2eP50: number;
  e2eP99: number;
  offered: number;
  enqueuedShare: number;
  note: string;
}

async function runVariant(db: Db, redis: Redis, label: string, role: string, sizes: { throughput: number; e2e: number }): Promise<Result> {
  // 1. commit → enqueued
  let prefix = `bench-outbox-${randomUUID().slice(0, 8)}`;
  await reset(db);
  let relay = await startRole(role, prefix);
  await sleep(300);
  let t0 = await commitBacklog(db, sizes.throughput);
  // In the queue, not `status = 'published'`: MetaStore's relay marks published only half a lease
  // after publishing (the consumers' consumed mark usually does it first), and no consumer runs here.
  await waitUntil("the backlog to be published", async () => (await redis.llen(`${prefix}:${QueueName.outboxEvents}:wait`)) === sizes.throughput, 120_000);
  await relay.stop();
  const ids = (await db.outboxEvent.findMany({ select: { id: true } })).map((r) => r.id);
  const times = [...(await enqueueTimes(redis, prefix, ids)).values()];
  const enqueuedPerSec = (sizes.throughput / Math.max(1, Math.max(...times) - t0)) * 1000;
  await clearPrefix(redis, prefix);
  log(`${label}: commit→enqueued ${enqueuedPerSec.toFixed(0)} events/s`);

  // 2. end to end (consumer with inbox running)
  prefix = `bench-outbox-${randomUUID().slice(0, 8)}`;
  await reset(db);
  let e2ePerSec = 0;
  const admin = new Redis(redisConnectionOptions(REDIS_URL, { maxRetriesPerRequest: 3 }));
  const before = await commandStats(admin);
  const parentBefore = parentPg.snapshot();
  let children!: ChildCounts;
  // The server's count covers relay + consumer + this process's writer and probes (taken back out).
  let cpu!: CpuMs;
  const tuples0 = await outboxTupleWrites(db);
  const xacts = await measureXacts(PG_ADMIN_URL, DB_NAME, async () => {
    const consumer = await startRole("consumer", prefix);
    relay = await startRole(role, prefix);
    await sleep(300);
    const relay0 = relay.cpuMs();
    const meter = await cpuMeter(admin, () => relay.cpuMs() + consumer.cpuMs());
    t0 = await commitBacklog(db, sizes.e2e);
    await waitUntil("the backlog to be consumed", async () => (await db.inboxEntry.count()) === sizes.e2e, 180_000);
    cpu = await meter.stop();
    const relayUs = ((relay.cpuMs() - relay0) * 1000) / sizes.e2e;
    log(`${label}: node CPU per event ${((cpu.node * 1000) / sizes.e2e).toFixed(0)} µs (relay ${relayUs.toFixed(0)}, consumer ${((cpu.node * 1000) / sizes.e2e - relayUs).toFixed(0)})`);
    const [row] = await db.$queryRawUnsafe<Array<{ last: Date }>>("SELECT max(processed_at) AS last FROM inbox_entry");
    e2ePerSec = (sizes.e2e / Math.max(1, row!.last.getTime() - t0)) * 1000;
    children = addCounts(await relay.stop(), await consumer.stop());
  });
  cpuRows.push({ unit: `event end to end, ${label.slice(0, 3)} relay + consumer`, units: sizes.e2e, cpu });
  // Row versions of outbox_event written per event after its insert (the writer only inserts), and
  // how many were HOT (no index entries). The children have exited: their statistics are flushed.
  const tuples1 = await outboxTupleWrites(db);
  const upd = tuples1.upd - tuples0.upd;
  const hot = tuples1.hot - tuples0.hot;
  tupleRows.push(`| ${label.slice(0, 3)} | ${(upd / sizes.e2e).toFixed(2)} | ${upd ? ((hot / upd) * 100).toFixed(1) : "0.0"}% |`);
  log(`${label}: outbox_event updates per event ${(upd / sizes.e2e).toFixed(2)}, HOT ${upd ? ((hot / upd) * 100).toFixed(1) : 0}%`);
  const parentCommits = parentPg.snapshot().commits - parentBefore.commits;
  const server = commandDelta(before, await commandStats(admin));
  await admin.quit();
  counts.push({
    unit: `event end to end, ${label.slice(0, 3)} relay + consumer (inbox incl.)`,
    units: sizes.e2e,
    pg: children.pg,
    xacts: { commits: xacts.commits - parentCommits, rollbacks: xacts.rollbacks },
    redisClient: children.redis,
    redisServer: server,
  });
  await clearPrefix(redis, prefix);
  log(`${label}: end-to-end ${e2ePerSec.toFixed(0)} events/s`);

  // 3. latency at a fixed offered load (relay only)
  prefix = `bench-outbox-${randomUUID().slice(0, 8)}`;
  await reset(db);
  // The consumer runs too, so commit → consumed (inbox row) is measured beside commit → enqueued.
  const latencyConsumer = await startRole("consumer", prefix);
  relay = await startRole(role, prefix);
  await sleep(300);
  const { committedAt, offered } = await offerEvents({ databaseUrl: DATABASE_URL, rate: RATE, seconds: SECONDS, aggregateOf: () => randomUUID() });
  // Give the relay a little time (the baseline up to one poll) to finish what was committed: in the
  // queue (MetaStore's relay defers its published mark; the consumers usually mark it first).
  const inQueue = async () => (await redis.exists(...[...committedAt.keys()].map((id) => `${prefix}:${QueueName.outboxEvents}:${id}`)));
  await waitUntil("the run's events to be published", async () => (await inQueue()) === committedAt.size, 6000).catch(() => {});
  await waitUntil("the run's events to be consumed", async () => (await db.inboxEntry.count()) >= committedAt.size, 10_000).catch(() => {});
  await relay.stop();
  await latencyConsumer.stop();
  const enq = await enqueueTimes(redis, prefix, [...committedAt.keys()]);
  const latencies = [...enq.entries()].map(([id, at]) => Math.max(0, at - committedAt.get(id)!)).sort((a, b) => a - b);
  // processed_at is now() of the consumer's inbox transaction: when consuming began (ms precision).
  const consumed = await db.inboxEntry.findMany({ select: { eventId: true, processedAt: true } });
  const e2eLatencies = consumed
    .filter((r) => committedAt.has(r.eventId))
    .map((r) => Math.max(0, r.processedAt.getTime() - committedAt.get(r.eventId)!))
    .sort((a, b) => a - b);
  await clearPrefix(redis, prefix);
  const result: Result = {
    label,
    enqueuedPerSec,
    e2ePerSec,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    e2eP50: pct(e2eLatencies, 50),
    e2eP99: pct(e2eLatencies, 99),
    offered,
    enqueuedShare: enq.size / committedAt.size,
    note: "",
  };
  log(`${label}: offered ${offered.toFixed(0)}/s, p50 ${result.p50} ms, p99 ${result.p99} ms (consumed: p50 ${result.e2eP50}, p99 ${result.e2eP99}), enqueued ${(result.enqueuedShare * 100).toFixed(1)}%`);
  return result;
}

/**
 * CPU from now until stop(): the node processes `nodeMs` reads, the private redis-server, and the
 * bench database's backends other than this process's own (PARENT_APP: the writer and the probes).
 */
async function cpuMeter(admin: Redis, nodeMs: () => number) {
  const probe = new pg.Client({ connectionString: DATABASE_URL, application_name: PARENT_APP });
  await probe.connect();
  const node0 = nodeMs();
  const redis0 = await redisCpuMs(admin);
  const pg0 = await pgBackendCpu(probe, DB_NAME, [PARENT_APP]);
  return {
    async stop(): Promise<CpuMs> {
      const cpu = { node: nodeMs() - node0, redis: (await redisCpuMs(admin)) - redis0, pg: pgCpuBetween(pg0, await pgBackendCpu(probe, DB_NAME, [PARENT_APP])) };
      await probe.end();
      return cpu;
    },
  };
}

/** Reference: addBulk + a no-op BullMQ worker, no database: the queue's own ceiling here. */
async function bullmqCeiling(redis: Redis, n: number): Promise<number> {
  const { Queue } = await import("bullmq");
  const { bullmqConnection } = await import("../src/server/platform/redis");
  const prefix = `bench-outbox-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(QueueName.outboxEvents, { connection: bullmqConnection(REDIS_URL), prefix });
  const worker = await startRole("noop", prefix);
  const admin = new Redis(redisConnectionOptions(REDIS_URL, { maxRetriesPerRequest: 3 }));
  const before = await commandStats(admin);
  // The producer is this process (its progress polling included, a few ms); the worker a child.
  const ownBefore = ownCpuMs();
  const worker0 = worker.cpuMs();
  const meter = await cpuMeter(admin, () => worker.cpuMs() + ownCpuMs() - ownBefore);
  const t0 = Date.now();
  for (let i = 0; i < n; i += 500) {
    await queue.addBulk(Array.from({ length: Math.min(500, n - i) }, (_, k) => ({ name: "file.tagged", data: { i: i + k }, opts: { jobId: randomUUID(), removeOnComplete: { age: 3600, count: 50_000 } } })));
  }
  await waitUntil("the no-op worker to finish", async () => (await queue.getCompletedCount()) >= n, 120_000);
  const rate = (n / (Date.now() - t0)) * 1000;
  const workerMs = worker.cpuMs();
  const floorCpu = await meter.stop();
  cpuRows.push({ unit: "job, BullMQ alone (addBulk producer + no-op worker)", units: n, cpu: floorCpu });
  const workerUs = ((workerMs - worker0) * 1000) / n;
  log(`BullMQ alone: node CPU per job ${((floorCpu.node * 1000) / n).toFixed(0)} µs (producer ${((floorCpu.node * 1000) / n - workerUs).toFixed(0)}, worker ${workerUs.toFixed(0)})`);
  const child = await worker.stop();
  counts.push({ unit: "job, BullMQ alone (no-op worker; producer not counted)", units: n, redisClient: child.redis, redisServer: commandDelta(before, await commandStats(admin)) });
  await admin.quit();
  await queue.close();
  await clearPrefix(redis, prefix);
  log(`BullMQ ceiling (addBulk + no-op worker, no database): ${rate.toFixed(0)} jobs/s`);
  return rate;
}

async function main() {
  const redisServer = await benchRedis();
  REDIS_URL = redisServer.url;
  log(`database ${DB_NAME}, private Redis ${REDIS_URL}`);
  await adminQuery(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${DB_NAME}`);
  migrate();
  const db = createDb(`${DATABASE_URL}?application_name=${PARENT_APP}`, { max: 30 });
  const redis = new Redis(redisConnectionOptions(REDIS_URL, { maxRetriesPerRequest: 3 }));
  try {
    const only = process.env.BENCH_ONLY ?? (QUICK ? "bcq" : "abc");
    const results: Result[] = [];
    // The baseline moves at most 500 events per 5 s poll: smaller backlogs keep the run short.
    if (only.includes("a")) results.push(await runVariant(db, redis, "(a) baseline poller (5 s poll, 1 batch of 500 per poll)", "poller", { throughput: 1500, e2e: 1000 }));
    if (only.includes("b")) results.push(await runVariant(db, redis, "(b) bare floor (same claim SQL + addBulk, tight loop)", "bare", { throughput: EVENTS, e2e: EVENTS }));
    if (only.includes("c")) results.push(await runVariant(db, redis, "(c) MetaStore relay (NOTIFY + poll, leases, backoff)", "relay", { throughput: EVENTS, e2e: EVENTS }));
    const ceiling = only.includes("q") || only === "abc" ? await bullmqCeiling(redis, EVENTS) : NaN;
    const bare = results.find((r) => r.label.startsWith("(b)"));
    const relay = results.find((r) => r.label.startsWith("(c)"));
    const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "–");
    const lines = [
      `| variant | commit→enqueued (events/s) | end to end, inbox incl. (events/s) | p50 commit→enqueued @ ${RATE}/s (ms) | p99 (ms) | p50 commit→consumed @ ${RATE}/s (ms) | p99 (ms) | offered (events/s) | enqueued by end of run |`,
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...results.map((r) => `| ${r.label} | ${f0(r.enqueuedPerSec)} | ${f0(r.e2ePerSec)} | ${f0(r.p50)} | ${f0(r.p99)} | ${f0(r.e2eP50)} | ${f0(r.e2eP99)} | ${f0(r.offered)} | ${(r.enqueuedShare * 100).toFixed(1)}% |`),
      ...(Number.isFinite(ceiling) ? [`| (ref) BullMQ alone: addBulk + no-op worker, no database | – | ${f0(ceiling)} | – | – | – | – | – | – |`] : []),
      "",
      relay && bare
        ? `Targets: relay ≥ ½ of the bare floor: ${f0(relay.enqueuedPerSec)} vs ${f0(bare.enqueuedPerSec / 2)} → ${relay.enqueuedPerSec >= bare.enqueuedPerSec / 2 ? "met" : "NOT met"}; ` +
          `end to end ≥ 5,000/s: ${f0(relay.e2ePerSec)} → ${relay.e2ePerSec >= 5000 ? "met" : "NOT met"}; ` +
          `p99 < 25 ms at ${RATE}/s: ${f0(relay.p99)} ms → ${relay.p99 < 25 ? "met" : "NOT met"}.`
        : "(targets need variants b and c)",
      `(Backlogs: ${EVENTS} events for (b) and (c), 1,500/1,000 for (a); latency run ${SECONDS} s; ${process.env.BENCH_NOTE ?? "2-core machine shared with other work"}.)`,
    ];
    lines.push(
      "",
      "What one event cost end to end (relay + consumer processes' own pg clients and ioredis round trips; xact_commit from pg_stat_database less this process's writer/probes; Redis server commands on the bench's private redis-server, BullMQ's script-internal commands included):",
      "",
      countsTable(counts),
      "",
      "CPU per event (µs; node = the relay and consumer processes, or for BullMQ alone the addBulk producer and the no-op worker; the private redis-server; the PostgreSQL backends of the bench database, less this process's writer and probes):",
      "",
      cpuTable(cpuRows),
      "",
      "outbox_event row updates per event end to end (claim, published mark, consumed mark; the insert not counted) and the share that was HOT:",
      "",
      "| variant | updates per event | HOT |",
      "|---|---:|---:|",
      ...tupleRows,
    );
    console.log(lines.join("\n"));
    if (relay && Number.isFinite(ceiling)) {
      const ratio = relay.e2ePerSec / ceiling;
      goal("outbox end to end (commit → consumed, inbox incl.) vs BullMQ alone", `${(ratio * 100).toFixed(0)}%`, "≥ 50%", ratio >= 0.5);
    }
    const mine = counts.find((c) => c.unit.includes("(c)"));
    if (mine) {
      const perEvent = mine.pg!.writeCommits / mine.units;
      goal("PostgreSQL write commits per outbox event end to end (backlog, batched)", perEvent.toFixed(2), "≤ 2", perEvent <= 2);
    }
  } finally {
    await db.$disconnect();
    await redis.quit();
    await redisServer.close();
    await adminQuery(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
