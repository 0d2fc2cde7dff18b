/**
 * npm run bench:outbox-10m — where one PostgreSQL ends for the outbox: 10,000,000 seeded events.
 *
 * Seeds 10,000 events (test/support/dashboard-seed.ts: one event every 86.4 ms, i.e. 1M a day,
 * with a bounded recent backlog) and measures, then grows the table to 10M (ten days of history)
 * and measures again:
 *   - claim latency: the relay's own claim (claimDueEvents, relay-store.ts), claims given back
 *     untouched after each measurement (releaseClaims) so every claim sees the same backlog;
 *   - the outbox dashboard queries (bench/support/dashboard-queries.ts: outbox, bulk, failures);
 *   - at 10M only, retention: the real batched delete (deleteExpiredOutboxRows, retention.ts) of
 *     the oldest day (1M rows: one day's work at 1M events a day), its rows/s, the table and index
 *     sizes before and after, pgstattuple's dead/free space and pgstatindex's leaf density, and
 *     what a plain VACUUM gives back.
 * The verdict compares the delete rate with the write rate: batched deletes keep up while a day's
 * deletes take a small share of a day.
 *
 * Env: BENCH_EVENTS (default 10,000,000), BENCH_RETENTION_ROWS (default 1,000,000),
 * BENCH_REPS (default 25), BENCH_KEEP_DB=1.
 */
import type pg from "pg";
import type { Db } from "../src/server/platform/db/client";
import { claimDueEvents, releaseClaims } from "../src/server/reliability/outbox/relay-store";
import { deleteExpiredOutboxRows } from "../src/server/reliability/outbox/retention";
import { goal } from "./counts";
import { EVENT_SPACING_MS, outboxInsertSql, seedTable } from "../test/support/dashboard-seed";
import { fmtMs } from "./support/query-plans";
import { COMPARED_HEADER, comparedRows, measureDashboard, NOISE_FLOOR_MS, openComparedDatabases } from "./support/compared-databases";
import { percentile } from "./support";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const SMALL = 10_000;
const RETENTION_ROWS = Number(process.env.BENCH_RETENTION_ROWS ?? 1_000_000);
const REPS = Number(process.env.BENCH_REPS ?? 25);
const RELAY = "bench-10m-relay";
const log = (line: string) => process.stderr.write(`${line}\n`);

/** One claim of up to 100 due events, given back after (untimed) so the next claim sees the same. */
async function claimOnce(db: Db): Promise<number> {
  const t = performance.now();
  const claimed = await claimDueEvents(db, { relayId: RELAY, batchSize: 100, leaseMs: 30_000 });
  const ms = performance.now() - t;
  await releaseClaims(db, RELAY, claimed.map((c) => c.id));
  return ms;
}

/** Claim p50/p95 on the 10k and the 10M database, in alternation. */
async function claimLatency(small: Db, full: Db) {
  const t = await timeInterleavedSamples(() => claimOnce(small), () => claimOnce(full), REPS * 2);
  return { small: t.a, full: t.b };
}

/** Like timeInterleaved, but each call reports its own time (the claim alone, not its release). */
async function timeInterleavedSamples(a: () => Promise<number>, b: () => Promise<number>, reps: number) {
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < reps; i++) {
    if (i % 2) {
      tb.push(await b());
      ta.push(await a());
    } else {
      ta.push(await a());
      tb.push(await b());
    }
  }
  const stats = (xs: number[]) => {
    xs.sort((x, y) => x - y);
    return { p50: percentile(xs, 50), p95: percentile(xs, 95) };
  };
  return { a: stats(ta), b: stats(tb) };
}

async function sizes(client: pg.Client) {
  const { rows } = await client.query<{ heap: string; indexes: string; heap_b: string; idx_b: string }>(
    `SELECT pg_size_pretty(pg_relation_size('outbox_event')) AS heap, pg_size_pretty(pg_indexes_size('outbox_event')) AS indexes,
            pg_relation_size('outbox_event') AS heap_b, pg_indexes_size('outbox_event') AS idx_b`,
  );
  return rows[0]!;
}

async function bloat(client: pg.Client) {
  const t = await client.query<{ dead: string; free: string; live: string }>(
    `SELECT round(dead_tuple_percent::numeric, 1) AS dead, round(free_percent::numeric, 1) AS free, round(tuple_percent::numeric, 1) AS live FROM pgstattuple('outbox_event')`,
  );
  const i = await client.query<{ name: string; density: string; size: string }>(
    `SELECT c.relname AS name, round(s.avg_leaf_density::numeric, 0) AS density, pg_size_pretty(pg_relation_size(c.oid)) AS size
     FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid, LATERAL pgstatindex(c.oid::regclass) s
     WHERE x.indrelid = 'outbox_event'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree') ORDER BY pg_relation_size(c.oid) DESC`,
  );
  return { table: t.rows[0]!, indexes: i.rows };
}

async function main() {
  const names = { small: "metastore_bench_dash_10m_small", full: "metastore_bench_dash_10m" };
  log(`databases ${names.small} (10k events) and ${names.full} (${EVENTS.toLocaleString("en")}): migrating`);
  const databases = await openComparedDatabases(names);
  const { small, full } = databases;
  const client = full.client;
  await client.query("CREATE EXTENSION IF NOT EXISTS pgstattuple");
  const db = full.db;
  // One anchor for both: the newest 10k events of the big table are the small table's events.
  const anchorMs = Date.now();
  const anchor = new Date(anchorMs);
  const lines: string[] = [];
  try {
    await seedTable(small.client, "outbox_event", (a, b) => outboxInsertSql(a, b, anchorMs), { from: 0, to: SMALL });
    log(`seeding ${EVENTS.toLocaleString("en")}`);
    const seedSecs = await seedTable(client, "outbox_event", (a, b) => outboxInsertSql(a, b, anchorMs), { from: 0, to: EVENTS }, { rebuildIndexes: true, chunk: 500_000, log });
    const before = await sizes(client);
    log("measuring (10k and 10M in alternation)");
    const claim = await claimLatency(small.db, db);
    const measured = await measureDashboard(small, full, { anchor, reps: REPS, bigTables: ["outbox_event"], areas: ["outbox", "bulk", "failures"], log });

    // Retention: the oldest RETENTION_ROWS events (a day's worth at 1M a day).
    const cutoff = new Date(anchorMs - (EVENTS - RETENTION_ROWS) * EVENT_SPACING_MS);
    log(`retention: deleting events published before ${cutoff.toISOString()}`);
    const t = performance.now();
    const deleted = await deleteExpiredOutboxRows(db, { olderThan: cutoff, batchSize: 1000, maxBatches: 100_000 });
    const deleteSecs = (performance.now() - t) / 1000;
    const afterDelete = await sizes(client);
    const bloatAfterDelete = await bloat(client);
    const tv = performance.now();
    await client.query("VACUUM (ANALYZE) outbox_event");
    const vacuumSecs = (performance.now() - tv) / 1000;
    const afterVacuum = await sizes(client);
    const bloatAfterVacuum = await bloat(client);
    const claimAfter = (await claimLatency(small.db, db)).full;

    const rowsPerSec = deleted.events / deleteSecs;
    const writeRate = 1000 / EVENT_SPACING_MS; // events/s of the model (1M a day)
    const shareOfDay = (deleteSecs + vacuumSecs) / 86_400;

    lines.push(`outbox_event at ${EVENTS.toLocaleString("en")} rows (seeded in ${seedSecs.toFixed(0)} s, indexes rebuilt after): heap ${before.heap}, indexes ${before.indexes}. ${REPS} timed calls per query; p95 in ms.`);
    lines.push("");
    lines.push(...COMPARED_HEADER.map((l, i) => (i === 0 ? l.replace("| query |", "| measurement |").replace(/@full/g, "@10M").replace("at full size", "at 10M") : l)));
    const claimRatio = claim.full.p95 / claim.small.p95;
    const claimOk = claimRatio <= 2 || claim.full.p95 <= NOISE_FLOOR_MS;
    lines.push(`| relay claim (claimDueEvents, batch 100), p95 | ${fmtMs(claim.small.p95)} | ${fmtMs(claim.full.p95)} | ${claimRatio.toFixed(2)} | ${claimOk ? "met" : "**NOT met**"} | – | – | – | – | (p50 ${fmtMs(claim.small.p50)} → ${fmtMs(claim.full.p50)}; at 10M after retention + VACUUM: p95 ${fmtMs(claimAfter.p95)}) |`);
    const table = comparedRows(measured);
    lines.push(...table.rows);
    const met = table.met + (claimOk ? 1 : 0);
    const seq = table.seqScans;
    lines.push("");
    lines.push(`${met} of ${measured.size + 1} met the time goal (queries: median of the rounds' p95 ratios ≤ 2×; the claim: p95 ratio ≤ 2× or ≤ ${NOISE_FLOOR_MS} ms); ${table.buffersMet} of ${measured.size} queries touch ≤ 2× the buffers at 10k (+1 per row returned) at 10M; ${seq} sequential scans of outbox_event.`);
    lines.push("");
    lines.push("| retention (deleteExpiredOutboxRows, batches of 1,000) | figure |");
    lines.push("|---|---:|");
    lines.push(`| events deleted (the oldest day) | ${deleted.events.toLocaleString("en")} |`);
    lines.push(`| time, rows/s | ${deleteSecs.toFixed(1)} s, ${Math.round(rowsPerSec).toLocaleString("en")} rows/s |`);
    lines.push(`| write rate of the model (1M events a day) | ${writeRate.toFixed(1)} events/s |`);
    lines.push(`| delete rate ÷ write rate | ${(rowsPerSec / writeRate).toFixed(0)}× |`);
    lines.push(`| heap / indexes before | ${before.heap} / ${before.indexes} |`);
    lines.push(`| heap / indexes after the delete | ${afterDelete.heap} / ${afterDelete.indexes} |`);
    lines.push(`| after the delete: dead tuples / free space (pgstattuple) | ${bloatAfterDelete.table.dead} % / ${bloatAfterDelete.table.free} % |`);
    lines.push(`| plain VACUUM after it | ${vacuumSecs.toFixed(1)} s; heap / indexes ${afterVacuum.heap} / ${afterVacuum.indexes}; dead ${bloatAfterVacuum.table.dead} %, free ${bloatAfterVacuum.table.free} % (reused by new rows, not returned to the OS) |`);
    lines.push(`| index leaf density after delete → after VACUUM | ${bloatAfterDelete.indexes.map((i) => `${i.name} ${i.density} → ${bloatAfterVacuum.indexes.find((v) => v.name === i.name)?.density ?? "?"} %`).join(", ")} |`);
    lines.push(`| a day's retention (delete + VACUUM) as a share of the day | ${(shareOfDay * 100).toFixed(2)} % |`);
    console.log(lines.join("\n"));
    goal("outbox 10M: claim p95 at 10M ≤ 2× at 10k", claimRatio.toFixed(2), "≤ 2", claimOk);
    goal("outbox 10M: dashboard + claim within 2×", `${met} of ${measured.size + 1}`, `${measured.size + 1} of ${measured.size + 1}`, met === measured.size + 1);
    goal("outbox 10M: retention delete rate ÷ write rate (1M/day)", `${(rowsPerSec / writeRate).toFixed(0)}×`, "≥ 10×", rowsPerSec / writeRate >= 10);
  } finally {
    await databases.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
