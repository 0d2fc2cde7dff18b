import { PrismaPg } from "@prisma/adapter-pg";
import { ambientDb } from "./ambient-db";
import { POOL_CONNECTION_TIMEOUT_MS } from "./pool-timeouts";
import { createSidePool, registerSidePool } from "./side-pool";
import { PrismaClient } from "../../db/generated/client";

export type Db = PrismaClient;
export type { Prisma } from "../../db/generated/client";

/** Connections per process (web and worker each): PostgreSQL's default max_connections is 100. */
export const DEFAULT_POOL_MAX = 10;

export { POOL_CONNECTION_TIMEOUT_MS };

/**
 * The connection for what needs a PostgreSQL session of its own, which a transaction pooler
 * (PgBouncer pool_mode=transaction, the usual DATABASE_URL at scale) cannot give: LISTEN, named
 * prepared statements, advisory locks, session SETs, migrations. DIRECT_DATABASE_URL when set.
 */
export function sessionDatabaseUrl(env: { DATABASE_URL: string; DIRECT_DATABASE_URL?: string }): string {
  return env.DIRECT_DATABASE_URL || env.DATABASE_URL;
}

/**
 * A Prisma client on the `pg` driver adapter (Prisma 7: no native query engine), joined to the
 * ambient transaction when there is one (see ambient-db.ts), with a side pool of SIDE_POOL_MAX
 * connections opened on first use (see side-pool.ts).
 */
export function createDb(
  connectionString: string,
  options: {
    max?: number;
    connectionTimeoutMs?: number;
    /**
     * `connectionString` reaches PostgreSQL directly (no transaction pooler in between): the side
     * pool then prepares its statements (side-pool.ts). Off by default: safe behind PgBouncer.
     */
    sessionCapable?: boolean;
  } = {},
): Db {
  const connectionTimeoutMillis = options.connectionTimeoutMs ?? POOL_CONNECTION_TIMEOUT_MS;
  const adapter = new PrismaPg({ connectionString, max: options.max ?? DEFAULT_POOL_MAX, connectionTimeoutMillis });
  // Plus a small pool for statements sent while a transaction is held (see side-pool.ts), ended by $disconnect.
  const sidePool = createSidePool(connectionString, connectionTimeoutMillis, options.sessionCapable ?? false);
  const db = ambientDb(new PrismaClient({ adapter }), { onDisconnect: () => sidePool.end() });
  registerSidePool(db, sidePool);
  return db;
}
