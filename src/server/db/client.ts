import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client";

export type Db = PrismaClient;
export type { Prisma } from "./generated/client";

/** Connections per process (web and worker each): PostgreSQL's default max_connections is 100. */
export const DEFAULT_POOL_MAX = 10;

/** A Prisma client on the `pg` driver adapter (Prisma 7: no native query engine). */
export function createDb(connectionString: string, options: { max?: number } = {}): Db {
  const adapter = new PrismaPg({ connectionString, max: options.max ?? DEFAULT_POOL_MAX });
  return new PrismaClient({ adapter });
}
