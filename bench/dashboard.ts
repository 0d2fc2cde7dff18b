/**
 * npm run bench:dashboard — does the operator dashboard's cost grow with the tables?
 *
 * Seeds two databases (INSERT … SELECT generate_series, see test/support/dashboard-seed.ts for
 * the model): one with 10,000 rows per table, one at the full size (1,000,000 outbox events,
 * 100,000 sagas, 1,000,000 idempotency records, 100,000 audit rows) whose newest 10,000 rows are
 * the small one's rows. Every dashboard query (bench/support/dashboard-queries.ts: the functions
 * the admin routers call) is timed on both, in alternation, so the shared machine's load weighs
 * on both sizes alike.
 * Prints per query: p95 at 10k and at full size, the ratio (median over alternating rounds: see
 * measureDashboard), the time goal (ratio ≤ 2×, no floor), the shared buffers one call touches at
 * each size and their goal (≤ 2× + one per row returned, see buffersMet: a count that does not
 * swing with the load, telling real growth from noise) and the plan's node types at full size, flagging any Seq Scan on a big table.
 *
 * Env: BENCH_QUICK=1 (100k events / 10k sagas / 100k records), BENCH_REPS (least timed calls per
 * query and round, default 25), BENCH_ROUNDS (default 5), BENCH_KEEP_DB=1 (keep the database for a look with psql).
 */
import { goal } from "./counts";
import { aggregateInsertSql, auditInsertSql, fileInsertSql, idempotencyInsertSql, outboxInsertSql, sagaInsertSql, seedTable, userInsertSql } from "../test/support/dashboard-seed";
import { COMPARED_HEADER, comparedRows, measureDashboard, openComparedDatabases, ROUNDS } from "./support/compared-databases";

const QUICK = process.env.BENCH_QUICK === "1";
const SMALL = 10_000;
const FULL = {
  outbox_event: QUICK ? 100_000 : 1_000_000,
  saga_instance: QUICK ? 10_000 : 100_000,
  idempotency_key: QUICK ? 100_000 : 1_000_000,
  operator_audit: QUICK ? 10_000 : 100_000,
  // The console search's names: users before files (a file's owner must exist).
  app_user: QUICK ? 10_000 : 100_000,
  file: QUICK ? 100_000 : 1_000_000,
};
const REPS = Number(process.env.BENCH_REPS ?? 25);
const BIG_TABLES = Object.keys(FULL);

const SEEDERS = {
  outbox_event: outboxInsertSql,
  saga_instance: sagaInsertSql,
  idempotency_key: idempotencyInsertSql,
  operator_audit: auditInsertSql,
  app_user: userInsertSql,
  file: fileInsertSql,
} as const;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main() {
  // BENCH_NAME: a run of its own (other checkouts may run this bench on the same PostgreSQL at once).
  const own = process.env.BENCH_NAME ? `_${process.env.BENCH_NAME.replace(/\W/g, "_")}` : "";
  const names = QUICK
    ? { small: `metastore_bench_dash_quick_10k${own}`, full: `metastore_bench_dash_quick${own}` }
    : { small: `metastore_bench_dash_10k${own}`, full: `metastore_bench_dash${own}` };
  log(`databases ${names.small} (10k rows per table) and ${names.full} (full size): migrating`);
  const databases = await openComparedDatabases(names);
  const { small, full } = databases;
  // One anchor for both: the newest 10k rows of the full database are the rows of the small one.
  const anchorMs = Date.now();
  const anchor = new Date(anchorMs);
  try {
    const seedSeconds: string[] = [];
    for (const [table, sql] of Object.entries(SEEDERS)) {
      const size = FULL[table as keyof typeof FULL];
      log(`seeding ${table}: ${SMALL.toLocaleString("en")} and ${size.toLocaleString("en")} rows`);
      await seedTable(small.client, table, (a, b) => sql(a, b, anchorMs), { from: 0, to: SMALL });
      const secs = await seedTable(full.client, table, (a, b) => sql(a, b, anchorMs), { from: 0, to: size }, { rebuildIndexes: size > 100_000, log });
      seedSeconds.push(`${table} ${size.toLocaleString("en")} rows in ${secs.toFixed(0)} s`);
    }
    // The aggregates of the seeded events (the console search finds an aggregate by its id there).
    for (const c of [small, full]) await seedTable(c.client, "outbox_aggregate", () => aggregateInsertSql(), { from: 0, to: 1 });
    log("timing (10k and full size in alternation)");
    const measured = await measureDashboard(small, full, { anchor, reps: REPS, bigTables: BIG_TABLES, log });

    const sizes = await full.client.query<{ t: string; rows: string; size: string }>(
      `SELECT relname AS t, to_char(reltuples, 'FM999,999,999') AS rows, pg_size_pretty(pg_total_relation_size(oid)) AS size
       FROM pg_class WHERE relname = ANY($1) ORDER BY relname`,
      [BIG_TABLES],
    );
    const lines: string[] = [];
    lines.push(`Tables at full size: ${sizes.rows.map((r) => `${r.t} ${r.rows} rows (${r.size} with indexes)`).join("; ")}.`);
    lines.push(
      `Seeding: ${seedSeconds.join("; ")}. Per query ${ROUNDS} rounds of calls on each database in alternation (10k, full, full, 10k …) after warm-ups, ` +
        `${REPS}–60 calls a round (as many as fit in 150 ms: more for fast reads); p95 in ms over all rounds, ratio = median of the rounds' p95 ratios. ` +
        "Buffers: shared buffers one call touches (EXPLAIN (ANALYZE, BUFFERS) of the statements it sends, hits and reads).",
    );
    lines.push("");
    lines.push(...COMPARED_HEADER);
    const { rows, met, buffersMet, seqScans } = comparedRows(measured);
    lines.push(...rows);
    lines.push("");
    lines.push(
      `${met} of ${measured.size} queries met the time goal (median of ${ROUNDS} rounds' p95 ratio, full size over 10k, ≤ 2×; no floor); ` +
        `${buffersMet} of ${measured.size} the work goal (shared buffers touched at full size ≤ 2× at 10k + one per row returned); ${seqScans} sequential scans of a big table in the plans at full size.`,
    );
    console.log(lines.join("\n"));
    goal(`dashboard queries: p95 at full size ≤ 2× p95 at 10k (median of ${ROUNDS} alternating rounds)`, `${met} of ${measured.size}`, `${measured.size} of ${measured.size}`, met === measured.size);
    goal("dashboard queries: shared buffers per call at full size ≤ 2× at 10k (+1 per row returned)", `${buffersMet} of ${measured.size}`, `${measured.size} of ${measured.size}`, buffersMet === measured.size);
    goal("dashboard plans: Seq Scans on a big table at full size", String(seqScans), "0", seqScans === 0);
  } finally {
    await databases.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
