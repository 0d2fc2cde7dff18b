/**
 * prisma/schema.prisma and prisma/migrations must describe the same database.
 *
 * The check is Prisma's own: `prisma migrate diff --from-migrations prisma/migrations --to-schema
 * prisma/schema.prisma --exit-code` (exit 0: in sync, 2: the migrations miss something), which
 * replays the migrations on a shadow database (`datasource.shadowDatabaseUrl` in prisma.config.ts,
 * from SHADOW_DATABASE_URL). It runs through scripts/prisma.mjs, so with the offline schema engine
 * shim here and with a native engine when PRISMA_SCHEMA_ENGINE_BINARY points at one.
 *
 * When the first test fails: create the missing migration with
 *   npm run db:migrate:dev -- --name <what-changed>
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execPrisma, type PrismaRun } from "../../../../scripts/db-migrate";
import { MIGRATIONS_DIR, createTestDatabase, type TestDatabase } from "~test/support/database";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..", "..");
const SCHEMA = path.join(ROOT, "prisma", "schema.prisma");

function migrationNames(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

function show(run: PrismaRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

describe("Prisma migrations", () => {
  let migrated: TestDatabase;
  const shadows: TestDatabase[] = [];
  let tmpDir: string;

  /** `migrate diff` from the migrations to a schema file, with its own empty shadow database. */
  async function diffMigrationsTo(schemaPath: string, extra: string[] = []): Promise<PrismaRun> {
    const shadow = await createTestDatabase({ empty: true });
    shadows.push(shadow);
    return execPrisma(
      ["migrate", "diff", "--from-migrations", MIGRATIONS_DIR, "--to-schema", schemaPath, "--exit-code", ...extra],
      { env: { DATABASE_URL: migrated.url, SHADOW_DATABASE_URL: shadow.url } },
    );
  }

  beforeAll(async () => {
    migrated = await createTestDatabase();
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "metastore-migrations-test-"));
  });

  afterAll(async () => {
    await Promise.all([migrated?.drop(), ...shadows.map((s) => s.drop())]);
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  });

  it("schema.prisma and prisma/migrations agree (prisma migrate diff --exit-code)", async () => {
    const run = await diffMigrationsTo(SCHEMA);
    expect(run.code, `schema.prisma has changes that no migration creates; add one with \`npm run db:migrate:dev -- --name <change>\`.\n${show(run)}`).toBe(0);
  });

  it("the check fails on a schema that the migrations do not produce", async () => {
    const altered = path.join(tmpDir, "schema.prisma");
    fs.writeFileSync(
      altered,
      fs.readFileSync(SCHEMA, "utf8") +
        '\nmodel MigrationsCheckCanary {\n  id    Int    @id\n  label String\n\n  @@map("migrations_check_canary")\n}\n',
    );
    const run = await diffMigrationsTo(altered, ["--script"]);
    expect(run.code, show(run)).toBe(2);
    expect(run.stdout).toContain('CREATE TABLE "migrations_check_canary"');
  });

  it("a migrated database records every migration in _prisma_migrations, and migrate status is up to date", async () => {
    const client = new pg.Client({ connectionString: migrated.url });
    await client.connect();
    let rows: { migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }[];
    try {
      ({ rows } = await client.query("SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name"));
    } finally {
      await client.end();
    }
    const names = migrationNames();
    expect(names.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const row of rows) {
      expect(row.finished_at, row.migration_name).not.toBeNull();
      expect(row.rolled_back_at, row.migration_name).toBeNull();
      // Prisma's checksum: sha256 of migration.sql, so edited-after-apply migrations are detected.
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row.checksum, row.migration_name).toBe(createHash("sha256").update(sql).digest("hex"));
    }

    const status = await execPrisma(["migrate", "status"], { env: { DATABASE_URL: migrated.url } });
    expect(status.code, show(status)).toBe(0);
    expect(status.stdout).toContain("Database schema is up to date!");
  });
});
