/**
 * `npm run bench:scale`: the outbox scaled out over 1, 2 and 4 worker processes (each running the
 * relay and the consumer worker, as `npm run worker` does) on one PostgreSQL and one Redis.
 * Per worker count, on a fresh queue prefix:
 *   - backlog: BENCH_EVENTS events over BENCH_EVENTS/4 aggregates (4 ordered events each) committed
 *     in one transaction while the workers wait; relay throughput = events / (last published_at −
 *     commit), consumer throughput = events / (last consumed_at − commit);
 *   - latency: a writer commits BENCH_RATE events/s for BENCH_SECONDS over 200 aggregates (each
 *     commit its own transaction, appendEvent's statement); commit → consumed p50/p99 from the
 *     consumer's inbox row;
 *   - duplicate publications: every process records the job ids its relay published (addBulk);
 *     an id published twice, by one process or two, is a duplicate (BullMQ would hide it: job id =
 *     event id). Must be 0. Handler runs beyond one per event are shown too (a batch that rolled back);
 *   - per-aggregate order, checked on every run: no event published before its predecessor in the
 *     aggregate was consumed, and no consumer inbox row before its predecessor's;
 *   - CPU: PostgreSQL (the bench database's backends), redis-server, the worker processes and the
 *     bench's own writer, sampled from /proc during the run, in cores, beside the whole machine's.
 * BENCH_QUICK=1: smaller sizes. Env: BENCH_EVENTS (20000), BENCH_RATE (800), BENCH_SECONDS (8),
 * BENCH_WORKERS (1,2,4).
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { redisConnectionOptions } from "~/server/platform/redis";
import { coresOnMachine, sampleCpu, type CpuUse } from "./cpu-sampler";
import { benchDatabase, benchRedis, percentile } from "./support";
import { startBenchChild, stopBenchChild } from "./support/child-process";
import { offerEvents, waitUntil } from "./support/outbox-load";
import { clearPrefix } from "./support/redis-prefix";

const QUICK = process.env.BENCH_QUICK === "1";
const EVENTS = Number(process.env.BENCH_EVENTS ?? (QUICK ? 6000 : 20_000));
const RATE = Number(process.env.BENCH_RATE ?? 800);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 5 : 8));
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? "1,2,4").split(",").map(Number);
const LATENCY_AGGREGATES = 200;

const log = (line: string) => console.log(`[bench:scale] ${line}`);

/** Events whose predecessor in the aggregate was not yet consumed when they were published or consumed. */
const ORDER_SQL = `
  SELECT count(*) FILTER (WHERE e.published_at < p.consumed_at)::int AS published_early,
         count(*) FILTER (WHERE ie.processed_at < ip.processed_at)::int AS consumed_early,
         count(*)::int AS pairs
  FROM outbox_event e
  JOIN outbox_event p ON p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id AND p.aggregate_seq = e.aggregate_seq - 1
  LEFT JOIN inbox_entry ie ON ie.event_id = e.id AND ie.consumer = 'bench'
  LEFT JOIN inbox_entry ip ON ip.event_id = p.id AND ip.consumer = 'bench'`;

/**
 * PostgreSQL's own background processes (WAL writer, checkpointer, ...): they work for every
 * database of the server, the bench's commits included (the WAL flushes of its commits happen there).
 */
function postgresBackgroundPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (/^postgres: .*(walwriter|checkpointer|background writer|autovacuum launcher|walsender)/.test(title)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

interface Worker {
  child: ChildProcess;
  outFile: string;
}

async function startWorker(env: NodeJS.ProcessEnv, dir: string, i: number): Promise<Worker> {
  const outFile = path.join(dir, `worker-${i}.json`);
  const { child } = await startBenchChild("bench/scale-runner.ts", { ...env, OUT_FILE: outFile }, `bench worker ${i}`);
  return { child, outFile };
}

async function stopWorker(w: Worker): Promise<{ published: string[]; handled: string[] }> {
  await stopBenchChild(w.child);
  return JSON.parse(readFileSync(w.outFile, "utf8")) as { published: string[]; handled: string[] };
}

interface Row {
  workers: number;
  relayPerSec: number;
  consumerPerSec: number;
  offered: number;
  p50: number;
  p99: number;
  events: number;
  duplicatePublications: number;
  extraHandlerRuns: number;
  order: { publishedEarly: number; consumedEarly: number; pairs: number };
  cpu: CpuUse;
}

async function runOnce(k: number, ctx: { db: pg.Pool; dbName: string; databaseUrl: string; redisUrl: string; redisPid: number; dir: string }): Promise<Row> {
  const prefix = `bench-scale-${randomUUID().slice(0, 8)}`;
  await ctx.db.query("TRUNCATE outbox_event, outbox_aggregate, inbox_entry CASCADE");
  const env = { ...process.env, DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.redisUrl, PREFIX: prefix };
  const workers = await Promise.all(Array.from({ length: k }, (_, i) => startWorker(env, ctx.dir, i)));
  const workerPids = workers.map((w) => w.child.pid!);
  const pgBackground = postgresBackgroundPids();
  const cpu = sampleCpu(async () => {
    const { rows } = await ctx.db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [ctx.dbName]);
    return { postgres: rows.map((r) => r.pid), "postgres background": pgBackground, "redis-server": [ctx.redisPid], [`workers (${k} node)`]: workerPids, "bench writer (node)": [process.pid] };
  });

  // Backlog: 4 ordered events per aggregate, one transaction; the commit wakes the relays (NOTIFY).
  const aggregates = Math.ceil(EVENTS / 4);
  const { rows: committed } = await ctx.db.query<{ at: Date }>(
    `WITH agg AS (INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq)
                  SELECT 'file', gen_random_uuid()::text, 4 FROM generate_series(1, $1::int) RETURNING aggregate_id),
          ins AS (INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, headers, max_attempts)
                  SELECT gen_random_uuid(), 'file', agg.aggregate_id, s, 'file.tagged',
                         jsonb_build_object('fileId', agg.aggregate_id, 'ownerId', agg.aggregate_id, 'tags', '[]'::jsonb), '{}'::jsonb, 5
                  FROM agg CROSS JOIN generate_series(1, 4) s RETURNING 1)
     SELECT clock_timestamp() AS at, (SELECT count(*) FROM ins)`,
    [aggregates],
  );
  const commitAt = committed[0]!.at.getTime();
  const backlog = aggregates * 4;
  await waitUntil("the backlog to be consumed", async () => (await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox_event WHERE consumed_at IS NULL")).rows[0]!.n === 0, 300_000);
  const { rows: ends } = await ctx.db.query<{ published: Date; consumed: Date }>("SELECT max(published_at) AS published, max(consumed_at) AS consumed FROM outbox_event");
  const relayPerSec = backlog / ((ends[0]!.published.getTime() - commitAt) / 1000);
  const consumerPerSec = backlog / ((ends[0]!.consumed.getTime() - commitAt) / 1000);

  // Latency at a fixed offered rate, each event its own commit, over a few hundred aggregates.
  const aggregateIds = Array.from({ length: LATENCY_AGGREGATES }, () => randomUUID());
  const { committedAt, offered } = await offerEvents({ databaseUrl: ctx.databaseUrl, rate: RATE, seconds: SECONDS, aggregateOf: (i) => aggregateIds[i % LATENCY_AGGREGATES]! });
  await waitUntil("the latency run's events to be consumed", async () => (await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox_event WHERE consumed_at IS NULL")).rows[0]!.n === 0, 120_000);
  const cpuUse = await cpu.stop();
  const { rows: inbox } = await ctx.db.query<{ event_id: string; processed_at: Date }>("SELECT event_id, processed_at FROM inbox_entry WHERE consumer = 'bench' AND event_id = ANY($1::uuid[])", [[...committedAt.keys()]]);
  const latencies = inbox.map((r) => Math.max(0, r.processed_at.getTime() - committedAt.get(r.event_id)!)).sort((a, b) => a - b);

  const outs = await Promise.all(workers.map(stopWorker));
  const published = outs.flatMap((o) => o.published);
  const handled = outs.flatMap((o) => o.handled);
  const events = backlog + committedAt.size;
  const { rows: order } = await ctx.db.query<{ published_early: number; consumed_early: number; pairs: number }>(ORDER_SQL);
  const admin = new Redis(redisConnectionOptions(ctx.redisUrl));
  await clearPrefix(admin, prefix);
  await admin.quit();
  return {
    workers: k,
    relayPerSec,
    consumerPerSec,
    offered,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    events,
    duplicatePublications: published.length - new Set(published).size,
    extraHandlerRuns: handled.length - new Set(handled).size,
    order: { publishedEarly: order[0]!.published_early, consumedEarly: order[0]!.consumed_early, pairs: order[0]!.pairs },
    cpu: cpuUse,
  };
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
const c2 = (n: number | undefined) => (n === undefined ? "—" : n.toFixed(2));

const database = benchDatabase("metastore_bench_scale");
await database.recreate();
const redis = await benchRedis();
const probe = new Redis(redisConnectionOptions(redis.url));
const redisPid = Number(/process_id:(\d+)/.exec(await probe.info("server"))?.[1]);
await probe.quit();
const db = new pg.Pool({ connectionString: database.url, max: 4 });
const dir = mkdtempSync(path.join(os.tmpdir(), "metastore-bench-scale-"));
const loadAtStart = os.loadavg()[0]!;
const rows: Row[] = [];
try {
  for (const k of WORKER_COUNTS) {
    log(`${k} worker process(es): ${EVENTS} backlog events, then ${RATE}/s for ${SECONDS} s`);
    const row = await runOnce(k, { db, dbName: database.name, databaseUrl: database.url, redisUrl: redis.url, redisPid, dir });
    rows.push(row);
    log(
      `${k}: relay ${f0(row.relayPerSec)}/s, consumer ${f0(row.consumerPerSec)}/s, p50 ${f0(row.p50)} ms, p99 ${f0(row.p99)} ms, duplicates ${row.duplicatePublications}, order violations ${row.order.publishedEarly + row.order.consumedEarly}, machine CPU ${c2(row.cpu.machine)} cores`,
    );
  }
} finally {
  await db.end();
  await redis.close();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}

const cores = coresOnMachine();
const base = rows[0]!;
const table = [
  `| worker processes | relay (events/s) | consumer (events/s) | vs 1 process | offered (events/s, target ${RATE}) | commit→consumed p50 (ms) | p99 (ms) | duplicate publications | order violations (of pairs) | CPU: PostgreSQL (backends + background) | redis-server | workers | writer | other | machine (of ${cores}) |`,
  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ...rows.map((r) => {
    const g = r.cpu.groups;
    return `| ${r.workers} | ${f0(r.relayPerSec)} | ${f0(r.consumerPerSec)} | ${(r.consumerPerSec / base.consumerPerSec).toFixed(2)}× | ${f0(r.offered)} | ${f0(r.p50)} | ${f0(r.p99)} | ${r.duplicatePublications} | ${r.order.publishedEarly + r.order.consumedEarly} (of ${f0(r.order.pairs)}) | ${c2(g.postgres)} + ${c2(g["postgres background"])} | ${c2(g["redis-server"])} | ${c2(g[`workers (${r.workers} node)`])} | ${c2(g["bench writer (node)"])} | ${c2(r.cpu.other)} | ${c2(r.cpu.machine)} |`;
  }),
].join("\n");
console.log(`\n${table}\n`);
const top = rows.at(-1)!;
const groups = Object.entries(top.cpu.groups).sort((a, b) => b[1] - a[1]);
console.log(
  `CPU in cores over each run (backlog + latency phases), from /proc; "other" is the rest of the machine's busy time (other work on a shared machine). With ${top.workers} worker processes the machine was ${((top.cpu.machine / cores) * 100).toFixed(0)}% busy; ` +
    `the largest share: ${groups[0]![0]} ${c2(groups[0]![1])} cores, then ${groups[1]![0]} ${c2(groups[1]![1])}. ` +
    `Load average at the start ${loadAtStart.toFixed(1)} on ${cores} cores.`,
);
const failed = rows.filter((r) => r.duplicatePublications > 0 || r.order.publishedEarly + r.order.consumedEarly > 0);
if (failed.length) {
  console.error(`bench:scale: ${failed.length} run(s) broke an invariant (duplicate publications or per-aggregate order)`);
  process.exit(1);
}
