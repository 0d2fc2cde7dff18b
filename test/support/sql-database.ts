import pg from "pg";
import { createDb, type Db } from "~/server/platform/db/client";
import { uuidv7Floor } from "~/server/reliability/outbox/queries";
import { createTestDatabase, type TestDatabase } from "./database";

/**
 * A fresh migrated database for tests of SQL shapes and plans: `db` (Prisma, as the code under test
 * uses it) and `client` (plain pg, for seeding rows with exact ids and times no service would write).
 */
export interface SqlTestDatabase {
  database: TestDatabase;
  db: Db;
  client: pg.Client;
  close(): Promise<void>;
}

export async function openSqlTestDatabase(): Promise<SqlTestDatabase> {
  const database = await createTestDatabase();
  const db = createDb(database.url, { max: 2 });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    database,
    db,
    client,
    async close() {
      await client.end().catch(() => {});
      await db.$disconnect();
      await database.drop();
    },
  };
}

/** A UUIDv7 whose time part is `time` (n makes it unique): an id the app took at that moment. */
export function uuidv7At(time: Date, n: number): string {
  return `${uuidv7Floor(time).slice(0, 14)}7000-8000-${n.toString(16).padStart(12, "0")}`;
}
