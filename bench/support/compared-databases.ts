/**
 * The "does it grow with the table?" benches (bench/dashboard.ts, bench/outbox-10m.ts) compare a
 * small database with a full-size one: both made fresh from the migrations, each opened with a
 * Prisma client (the functions under test) and a pg client (seeding, EXPLAIN), the dashboard
 * queries timed on both in alternation, one table row per query. Written once here.
 */
import pg from "pg";
import { createDb, type Db } from "../../src/server/platform/db/client";
import { benchDatabase } from "../support";
import { dashboardQueries, readSamples, type DashboardQuery } from "./dashboard-queries";
import { captureStatements, explainAll, fmtMs, shortPlan, timeInterleaved, type PlanSummary } from "./query-plans";

export type ComparedDatabase = { db: Db; client: pg.Client };

/** Under this p95 (ms) a query counts as met whatever its ratio: there the machine's noise is the measurement. */
export const NOISE_FLOOR_MS = 2;

async function open(url: string): Promise<ComparedDatabase> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { client, db: createDb(url, { max: 4 }) };
}

/** Re-create both databases from the migrations and open them; `close` ends the clients and drops them (unless BENCH_KEEP_DB=1). */
export async function openComparedDatabases(names: { small: string; full: string }) {
  const smallDb = benchDatabase(names.small);
  const fullDb = benchDatabase(names.full);
  await smallDb.recreate();
  await fullDb.recreate();
  const small = await open(smallDb.url);
  const full = await open(fullDb.url);
  return {
    small,
    full,
    async close() {
      for (const d of [small, full]) {
        await d.db.$disconnect();
        await d.client.end();
      }
      if (process.env.BENCH_KEEP_DB !== "1") {
        await smallDb.drop();
        await fullDb.drop();
      }
    },
  };
}

export interface Measured {
  small: number;
  full: number;
  plan: PlanSummary;
}

/**
 * The dashboard queries (of `areas`, or all) on both databases, timed in alternation (see
 * timeInterleaved) after one untimed pass; p95 of each, and the plan at full size.
 */
export async function measureDashboard(
  small: ComparedDatabase,
  full: ComparedDatabase,
  opts: { anchor: Date; reps: number; bigTables: string[]; areas?: Array<DashboardQuery["area"]>; log: (line: string) => void },
): Promise<Map<string, Measured>> {
  const qs = dashboardQueries(small.db, await readSamples(small.db, opts.anchor), opts.areas);
  const qf = dashboardQueries(full.db, await readSamples(full.db, opts.anchor), opts.areas);
  for (const q of [...qs, ...qf]) await q.run(); // caches and the process warmed alike
  const out = new Map<string, Measured>();
  for (const [i, q] of qs.entries()) {
    const f = qf[i]!;
    const plan = await explainAll(full.client, await captureStatements(f.run), opts.bigTables);
    const t = await timeInterleaved(q.run, f.run, opts.reps);
    out.set(q.name, { small: t.a.p95, full: t.b.p95, plan });
    opts.log(`  ${q.name}: p95 ${fmtMs(t.a.p95)} → ${fmtMs(t.b.p95)} ms`);
  }
  return out;
}

/** One markdown row per query (goal: p95 at full ≤ 2× p95 small, or under the noise floor), with the counts of met goals and Seq Scans. */
export function comparedRows(measured: Map<string, Measured>): { rows: string[]; met: number; seqScans: number } {
  const rows: string[] = [];
  let met = 0;
  let seqScans = 0;
  for (const [name, m] of measured) {
    const ratio = m.full / m.small;
    const ok = ratio <= 2 || m.full <= NOISE_FLOOR_MS;
    if (ok) met++;
    seqScans += m.plan.seqScansOnBig.length;
    const seq = m.plan.seqScansOnBig.length ? ` **Seq Scan on ${m.plan.seqScansOnBig.join(", ")}**` : "";
    rows.push(`| ${name} | ${fmtMs(m.small)} | ${fmtMs(m.full)} | ${ratio.toFixed(2)} | ${ok ? "met" : "**NOT met**"} | ${shortPlan(m.plan)}${seq} |`);
  }
  return { rows, met, seqScans };
}
