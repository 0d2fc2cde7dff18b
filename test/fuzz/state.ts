/**
 * A fingerprint of every table of the database: row count and an md5 of all rows, one statement.
 * Equal fingerprints before and after a rejected request mean it changed nothing.
 */
import type { Db } from "~/server/platform/db/client";

export type StateFingerprint = Record<string, { rows: number; md5: string }>;

export async function tableNames(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ name: string }>>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'
    ORDER BY table_name`;
  return rows.map((r) => r.name);
}

export function fingerprintQuery(tables: string[]): string {
  return tables
    .map((t) => `SELECT '${t}' AS t, count(*)::int AS n, md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t}" x`)
    .join(" UNION ALL ");
}

export async function fingerprint(db: Db, query: string): Promise<StateFingerprint> {
  const rows = await db.$queryRawUnsafe<Array<{ t: string; n: number; h: string }>>(query);
  return Object.fromEntries(rows.map((r) => [r.t, { rows: r.n, md5: r.h }]));
}

/** The tables whose rows differ (empty: nothing changed). */
export function changedTables(before: StateFingerprint, after: StateFingerprint): string[] {
  return Object.keys({ ...before, ...after }).filter((t) => before[t]?.md5 !== after[t]?.md5 || before[t]?.rows !== after[t]?.rows);
}
