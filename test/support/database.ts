/**
 * One real PostgreSQL database per test file (or per test), cloned from a migrated template.
 *
 *   import { createTestDatabase } from "~test/support/database";
 *   const database = await createTestDatabase();   // { name, url, drop() }
 *   … connect to database.url …
 *   await database.drop();                         // DROP DATABASE … WITH (FORCE); idempotent
 *
 * The template is built (migrated with `prisma migrate deploy`) by test/global-setup.ts and named
 * after a checksum of prisma/migrations, so it is rebuilt exactly when the migrations change and is
 * reused by later runs otherwise. Cloning it (`CREATE DATABASE … TEMPLATE …`) takes a few tens of ms.
 * The template refuses connections (ALLOW_CONNECTIONS false): a session on it would make every clone
 * fail with "source database is being accessed by other users".
 *
 * Server: TEST_DATABASE_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres), a role
 * that may create databases. Databases this run forgets to drop are dropped by the global teardown.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** Name of the migrated template database (see test/global-setup.ts). */
    testDatabaseTemplate: string;
    /** Admin URL of the test PostgreSQL server (TEST_DATABASE_ADMIN_URL or the default). */
    testDatabaseAdminUrl: string;
    /** Prefix of the databases of this run: the global teardown drops leftovers with it. */
    testDatabasePrefix: string;
  }
}

export const DEFAULT_TEST_DATABASE_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
export const TEST_DATABASE_PREFIX = "metastore_test_";
export const TEMPLATE_PREFIX = `${TEST_DATABASE_PREFIX}tpl_`;

const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const MIGRATIONS_DIR = path.join(ROOT, "prisma", "migrations");

export interface TestDatabase {
  /** Database name (`metastore_test_<run>_<pid>_<n>`). */
  name: string;
  /** Connection URL of the new database (same server and credentials as the admin URL): a session of its own. */
  url: string;
  /**
   * The same database through the transaction pooler of `npm run test:pgbouncer`
   * (TEST_DATABASE_POOLER_URL: its host, port and credentials); `url` when there is none.
   * What the app's DATABASE_URL would be; `url` is its DIRECT_DATABASE_URL.
   */
  pooledUrl: string;
  /** Drop the database, ending its open connections (WITH (FORCE)). Safe to call twice. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** An empty database instead of a clone of the migrated template (e.g. a shadow database). */
  empty?: boolean;
}

export function testDatabaseAdminUrl(): string {
  return process.env.TEST_DATABASE_ADMIN_URL || DEFAULT_TEST_DATABASE_ADMIN_URL;
}

/** `adminUrl` with its database replaced by `database`. */
export function databaseUrl(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

/** Run `fn` with a short-lived connection to the admin database. */
export async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    const e = error as { code?: string; message?: string };
    throw new Error(
      `Test PostgreSQL unreachable at ${redact(adminUrl)} (${e.code ?? e.message}). Start it ` +
        "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; check: pg_isready -h 127.0.0.1) " +
        "or point TEST_DATABASE_ADMIN_URL at a server where this role may create databases.",
      { cause: error },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** sha256 over the migration folders' names and migration.sql files, and migration_lock.toml. */
export function migrationsChecksum(dir = MIGRATIONS_DIR): string {
  const hash = createHash("sha256");
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory()) {
      const file = path.join(dir, entry.name, "migration.sql");
      hash.update(`dir:${entry.name}\n`);
      if (fs.existsSync(file)) hash.update(fs.readFileSync(file));
    } else if (entry.name === "migration_lock.toml") {
      hash.update("lock\n").update(fs.readFileSync(path.join(dir, entry.name)));
    }
  }
  return hash.digest("hex");
}

let counter = 0;

/**
 * Create a database for a test: a clone of the migrated template (default), or an empty one.
 * Must run inside vitest with test/global-setup.ts as globalSetup (it provides the template name).
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = inject("testDatabaseAdminUrl") ?? testDatabaseAdminUrl();
  const template = inject("testDatabaseTemplate");
  const prefix = inject("testDatabasePrefix") ?? TEST_DATABASE_PREFIX;
  if (!template && !options.empty) {
    throw new Error("No test database template: run vitest with test/global-setup.ts as globalSetup (see vitest.config.ts).");
  }
  const name = `${prefix}${process.pid}_${++counter}_${randomBytes(2).toString("hex")}`;
  await withAdmin(adminUrl, async (admin) => {
    const from = options.empty ? "" : ` TEMPLATE ${pg.escapeIdentifier(template)}`;
    try {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
    } catch (error) {
      if ((error as { code?: string }).code === "3D000") {
        throw new Error(`Template database ${template} is gone (dropped while this run used it?). Re-run the tests.`, { cause: error });
      }
      throw error;
    }
  });
  let dropped: Promise<void> | null = null;
  return {
    name,
    url: databaseUrl(adminUrl, name),
    pooledUrl: process.env.TEST_DATABASE_POOLER_URL ? databaseUrl(process.env.TEST_DATABASE_POOLER_URL, name) : databaseUrl(adminUrl, name),
    drop() {
      dropped ??= withAdmin(adminUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid URL>";
  }
}
