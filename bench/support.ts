/** What the benchmarks share: a fresh migrated database of their own, and percentiles. */
import pg from "pg";
import { migrateDatabase } from "../scripts/db-migrate";

const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/** One statement on the server's admin database (CREATE / DROP DATABASE …), on a connection of its own. */
export async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A database only this benchmark uses: dropped and re-created from the migrations on each run. */
export function benchDatabase(name: string) {
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const admin = adminQuery;
  return {
    name,
    url,
    async recreate() {
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await migrateDatabase(url); // creates it, then `prisma migrate deploy`
    },
    drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

/** The p-th percentile (0–100) of an ascending array; NaN for an empty one. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A redis-server of the benchmark's own on a free port (so INFO commandstats counts only its work,
 * and nothing is left in the shared Redis). BENCH_REDIS_URL overrides it (then counts include others').
 */
export async function benchRedis(): Promise<{ url: string; close: () => Promise<void> }> {
  if (process.env.BENCH_REDIS_URL) return { url: process.env.BENCH_REDIS_URL, close: async () => {} };
  const { startPrivateRedis } = await import("~test/support/redis-server");
  const server = await startPrivateRedis();
  return { url: server.url, close: () => server.close() };
}

export const PG_ADMIN = PG_ADMIN_URL;
