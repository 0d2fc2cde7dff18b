/**
 * vitest globalSetup: make sure the migrated template database for test databases exists, and hand
 * its name to the test files (`inject("testDatabaseTemplate")`, used by test/support/database.ts).
 *
 * The template is `metastore_test_tpl_<first 12 hex of sha256(prisma/migrations)>`: built once with
 * `prisma migrate deploy` (scripts/db-migrate.ts), reused by every later run until a migration
 * changes. Building is serialised across concurrent runs with an advisory lock and published with an
 * atomic RENAME, so a run never sees a half-migrated template. Old templates (other checksums) and
 * test databases left behind by crashed runs are dropped when they are more than a few hours old.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../scripts/db-migrate";
import {
  TEMPLATE_PREFIX,
  TEST_DATABASE_PREFIX,
  databaseUrl,
  migrationsChecksum,
  testDatabaseAdminUrl,
  withAdmin,
} from "./support/database";

const STALE_AFTER_MS = 6 * 60 * 60 * 1000;
const BUILD_LOCK_KEY = 0x6d657461; // "meta": pg_advisory_lock key for template builds

interface TemplateComment {
  checksum: string;
  builtAt: string;
}

async function ensureTemplate(adminUrl: string): Promise<string> {
  const checksum = migrationsChecksum();
  const template = `${TEMPLATE_PREFIX}${checksum.slice(0, 12)}`;
  return withAdmin(adminUrl, async (admin) => {
    const exists = async () => ((await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [template])).rowCount ?? 0) > 0;
    if (await exists()) return template;

    await admin.query("SELECT pg_advisory_lock($1)", [BUILD_LOCK_KEY]);
    try {
      if (await exists()) return template; // another run built it while we waited
      const building = `${template}_build`;
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(building)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(building)}`);
      try {
        await migrateDatabase(databaseUrl(adminUrl, building));
        const comment: TemplateComment = { checksum, builtAt: new Date().toISOString() };
        await admin.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(building)} IS ${pg.escapeLiteral(JSON.stringify(comment))}`);
        // No connection may exist on a template while it is cloned: refuse them from now on.
        await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(building)} WITH ALLOW_CONNECTIONS false`);
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [building]);
        await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(building)} RENAME TO ${pg.escapeIdentifier(template)}`);
      } catch (error) {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(building)} WITH (FORCE)`).catch(() => {});
        throw error;
      }
      await dropStale(admin, template);
      return template;
    } finally {
      await admin.query("SELECT pg_advisory_unlock($1)", [BUILD_LOCK_KEY]).catch(() => {});
    }
  });
}

/** Drop templates of other migration sets and test databases of crashed runs, once they are old. */
async function dropStale(admin: pg.Client, keep: string): Promise<void> {
  const { rows } = await admin.query<{ datname: string; comment: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE $1`,
    [`${TEST_DATABASE_PREFIX.replaceAll("_", "\\_")}%`],
  );
  const now = Date.now();
  for (const { datname, comment } of rows) {
    if (datname === keep) continue;
    let builtAt: number | null = null;
    if (datname.startsWith(TEMPLATE_PREFIX)) {
      try {
        builtAt = Date.parse((JSON.parse(comment ?? "") as TemplateComment).builtAt);
      } catch {
        builtAt = null;
      }
    } else {
      // metastore_test_<run started, base36 ms>_<pid>_<n>_<rand>
      const started = /^metastore_test_([0-9a-z]+)r/.exec(datname)?.[1];
      builtAt = started ? parseInt(started, 36) : null;
    }
    if (builtAt !== null && Number.isFinite(builtAt) && now - builtAt > STALE_AFTER_MS) {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => {});
    }
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const adminUrl = testDatabaseAdminUrl();
  const template = await ensureTemplate(adminUrl);
  // Databases of this run: metastore_test_<start time>r<pid>_…; the teardown drops the ones left over.
  const prefix = `${TEST_DATABASE_PREFIX}${Date.now().toString(36)}r${process.pid}_`;
  project.provide("testDatabaseTemplate", template);
  project.provide("testDatabaseAdminUrl", adminUrl);
  project.provide("testDatabasePrefix", prefix);

  return async () => {
    await withAdmin(adminUrl, async (admin) => {
      const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [prefix]);
      for (const { datname } of rows) {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => {});
      }
    });
  };
}
