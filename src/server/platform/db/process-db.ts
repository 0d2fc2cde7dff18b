import { getEnv } from "~/env.js";
import { createDb, type Db } from "./client";

// Kept on globalThis so `next dev` hot reloads reuse one pool instead of leaking a new one per reload.
const globalForDb = globalThis as unknown as { metastoreDb?: Db };

/** The process-wide Prisma client for the configured DATABASE_URL. */
export function getDb(): Db {
  globalForDb.metastoreDb ??= createDb(getEnv().DATABASE_URL);
  return globalForDb.metastoreDb;
}
