/**
 * Create the database named by DATABASE_URL if it does not exist, then apply pending migrations with
 * `prisma migrate deploy` (through scripts/prisma.mjs, so it works with the offline schema engine
 * shim and with a native engine alike). Idempotent.
 *
 *   npm run db:migrate                       # DATABASE_URL from the environment or .env
 *   DATABASE_URL=postgresql://… npm run db:migrate
 *
 * `migrateDatabase(url)` does the same from code (tests, benchmarks).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";

const ROOT = path.resolve(import.meta.dirname, "..");
const PRISMA_WRAPPER = path.join(ROOT, "scripts", "prisma.mjs");
export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/metastore";

export class DatabaseSetupError extends Error {
  override name = "DatabaseSetupError";
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable URL>";
  }
}

export interface ParsedDatabaseUrl {
  database: string;
  host: string;
  port: string;
  user: string;
  /** Same server and credentials, maintenance database `postgres`. */
  adminUrl: string;
}

export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseSetupError(`DATABASE_URL is not a valid URL: ${JSON.stringify(redactUrl(url))}`);
  }
  if (u.protocol !== "postgresql:" && u.protocol !== "postgres:") {
    throw new DatabaseSetupError(`DATABASE_URL must be a postgresql:// URL, got ${u.protocol}// (${redactUrl(url)})`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) throw new DatabaseSetupError(`DATABASE_URL names no database: ${redactUrl(url)}`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  admin.searchParams.delete("schema"); // Prisma-only parameter
  return {
    database,
    host: u.hostname || "localhost",
    port: u.port || "5432",
    user: decodeURIComponent(u.username || process.env.PGUSER || "postgres"),
    adminUrl: admin.toString(),
  };
}

function describePgError(error: unknown, url: string, target: ParsedDatabaseUrl): DatabaseSetupError {
  const e = error as { code?: string; message?: string };
  const where = `${target.host}:${target.port}`;
  switch (e?.code) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EHOSTUNREACH":
    case "ETIMEDOUT":
    case "EAI_AGAIN":
      return new DatabaseSetupError(
        `Cannot reach PostgreSQL at ${where} (${e.code}) for DATABASE_URL=${redactUrl(url)}.\n` +
          `Start PostgreSQL and try again, e.g.:\n` +
          `  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start   # Debian/Ubuntu cluster\n` +
          `  sudo systemctl start postgresql                                            # systemd\n` +
          `  sudo apt-get install postgresql                                            # not installed yet\n` +
          `Check with: pg_isready -h ${target.host} -p ${target.port}`,
      );
    case "28P01":
    case "28000":
      return new DatabaseSetupError(
        `PostgreSQL at ${where} rejected user "${target.user}" (${e.code}: ${e.message}). Fix the credentials in DATABASE_URL=${redactUrl(url)}.`,
      );
    case "42501":
      return new DatabaseSetupError(
        `User "${target.user}" may not create database "${target.database}" on ${where} (${e.message}). ` +
          `Create it as a superuser (createdb -h ${target.host} -p ${target.port} -U postgres ${target.database}) or grant CREATEDB.`,
      );
    default:
      return new DatabaseSetupError(`PostgreSQL error for DATABASE_URL=${redactUrl(url)}: ${e?.message ?? String(error)}`);
  }
}

/** Create the database of `url` if it does not exist. Returns whether it was created. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = parseDatabaseUrl(url);
  let admin = new pg.Client({ connectionString: target.adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    try {
      await admin.connect();
    } catch (error) {
      // No `postgres` database on this server (or no access to it): template1 always exists.
      if ((error as { code?: string }).code !== "3D000") throw error;
      await admin.end().catch(() => {});
      const fallback = new URL(target.adminUrl);
      fallback.pathname = "/template1";
      admin = new pg.Client({ connectionString: fallback.toString(), connectionTimeoutMillis: 10_000 });
      await admin.connect();
    }
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [target.database]);
    if (rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(target.database)}`);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === "42P04") return false; // created concurrently
      throw error;
    }
  } catch (error) {
    throw error instanceof DatabaseSetupError ? error : describePgError(error, url, target);
  } finally {
    await admin.end().catch(() => {});
  }
}

export interface RunPrismaOptions {
  /** Extra environment (DATABASE_URL is set from `url`). */
  env?: Record<string, string | undefined>;
  /** "inherit" streams the CLI's output; "pipe" captures it (and puts it in the error on failure). */
  stdio?: "inherit" | "pipe";
}

export interface PrismaRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `node scripts/prisma.mjs …args` (cwd: project root), capturing its output; never rejects on a non-zero exit. */
export function execPrisma(args: string[], options: { env?: Record<string, string | undefined> } = {}): Promise<PrismaRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRISMA_WRAPPER, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Run `node scripts/prisma.mjs …args` for the database `url`; resolves with the captured output, rejects on failure. */
export async function runPrisma(args: string[], url: string, options: RunPrismaOptions = {}): Promise<string> {
  const env = { ...options.env, DATABASE_URL: url };
  if (options.stdio === "inherit") {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [PRISMA_WRAPPER, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: "inherit" });
      child.on("error", reject);
      child.on("close", (c) => resolve(c));
    });
    if (code !== 0) throw new DatabaseSetupError(`prisma ${args.join(" ")} failed (exit ${code}) for ${redactUrl(url)}`);
    return "";
  }
  const run = await execPrisma(args, { env });
  const output = (run.stdout + run.stderr).trim();
  if (run.code !== 0) {
    throw new DatabaseSetupError(`prisma ${args.join(" ")} failed (${run.signal ?? `exit ${run.code}`}) for ${redactUrl(url)}${output ? `:\n${output}` : ""}`);
  }
  return output;
}

export interface MigrateResult {
  /** The database did not exist and was created. */
  created: boolean;
  /** Output of `prisma migrate deploy` (empty with stdio "inherit"). */
  output: string;
}

/** Create the database if needed and apply pending migrations (`prisma migrate deploy`). */
export async function migrateDatabase(url: string, options: RunPrismaOptions = {}): Promise<MigrateResult> {
  const created = await ensureDatabase(url);
  const output = await runPrisma(["migrate", "deploy"], url, options);
  return { created, output };
}

async function main(): Promise<void> {
  const envFile = path.join(ROOT, ".env");
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);
  // Migrations take a session (prisma's migrate advisory lock): never through a transaction pooler.
  const url = process.env.DIRECT_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const started = Date.now();
  const { database } = parseDatabaseUrl(url);
  const { created } = await migrateDatabase(url, { stdio: "inherit" });
  console.log(`db:migrate: database "${database}" ${created ? "created and " : ""}migrated in ${Date.now() - started} ms (${redactUrl(url)})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof DatabaseSetupError ? `db:migrate: ${error.message}` : error);
    process.exit(1);
  });
}
