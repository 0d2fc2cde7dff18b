#!/usr/bin/env node
// Prisma schema engine shim: the native engine's command line, served by the WebAssembly engine.
//
// Why this file exists
// --------------------
// The Prisma CLI (`prisma migrate …`, `db push`, `db pull`, `db execute`) does no schema work itself:
// it spawns a native "schema engine" executable and talks to it with newline-delimited JSON-RPC over
// stdin/stdout. That executable is downloaded from Prisma's own host on first use, and this machine
// cannot reach that host. The CLI honours `PRISMA_SCHEMA_ENGINE_BINARY`, and Prisma ships the same
// engine compiled to WebAssembly (`node_modules/prisma/build/schema_engine_bg.wasm`, which the CLI
// bundles but never loads). This script is an executable that speaks the native engine's protocol
// and forwards each request to the wasm engine, which reaches PostgreSQL through the `pg` driver
// adapter (`@prisma/adapter-pg`).
//
// Use it through `scripts/prisma.mjs` (which sets PRISMA_SCHEMA_ENGINE_BINARY to this file unless it
// is already set). On a machine with the native engine, set PRISMA_SCHEMA_ENGINE_BINARY to the native
// binary (or unset it and call `prisma` directly): the `prisma/` folder is the same for both.
//
// Invocations the CLI makes (all handled below):
//   schema-engine --version
//   schema-engine --datasource '{"url":…}' cli can-connect-to-database|create-database|drop-database
//   schema-engine [--datamodels <file>]… [--datasource '{"url":…,"shadowDatabaseUrl":…}']
//                 [--enabled-preview-features a,b] [--extension-types …]     (JSON-RPC mode)
//
// Versions are pinned on purpose: the JS glue (`@prisma/schema-engine-wasm`
// 8.1.0-2.59be4fda…) is not the build that matches prisma 7.10.1's bundled wasm (8.1.0-1.d1b3f377…,
// unpublished), but it has exactly the same import/export names and drives it correctly. Upgrading
// `prisma` means checking that again (the shim refuses to start if an import is missing).

import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum, DriverAdapterError } from "@prisma/driver-adapter-utils";
import * as glue from "@prisma/schema-engine-wasm/schema_engine_bg";

const require = createRequire(import.meta.url);
const SHIM_NAME = "schema-engine-wasm-shim";
const SHADOW_IS_MAIN =
  "The shadow database you configured appears to be the same as the main database. Please specify another shadow database.";

// ───────────────────────────── Logging (stderr) ─────────────────────────────
// The CLI reads the engine's stderr line by line as JSON log records
// ({ level, fields: { message, … }, target }) and remembers the last ERROR record to show when the
// engine exits abnormally. Non-JSON lines are ignored there, but we keep to the format anyway.

function logRecord(level, message, extra = {}) {
  return JSON.stringify({
    timestamp: new Date().toISOString(),
    level,
    fields: { message, ...extra },
    target: "schema_engine::logger",
  });
}

function log(level, message, extra) {
  process.stderr.write(logRecord(level, message, extra) + "\n");
}

// ───────────────────────────── Arguments ─────────────────────────────

function parseArgs(argv) {
  const args = { datamodels: [], datasource: null, previewFeatures: [], cli: null, version: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--version":
      case "-V":
        args.version = true;
        break;
      case "--datamodels":
      case "-d":
        args.datamodels.push(next());
        break;
      case "--datasource":
        args.datasource = JSON.parse(next());
        break;
      case "--enabled-preview-features":
        args.previewFeatures = next().split(",").filter(Boolean);
        break;
      case "--extension-types":
        next(); // Only used by the native engine for Postgres extension types; the wasm engine has no such option.
        break;
      case "cli":
        args.cli = argv.slice(i + 1);
        i = argv.length;
        break;
      default:
        // Unknown flags are ignored, like newer CLIs passing options this engine does not know.
        break;
    }
  }
  return args;
}

// ───────────────────────────── Connection strings ─────────────────────────────

/** Split `?schema=` (a Prisma-only parameter) off a PostgreSQL URL; pg would not understand it. */
function splitSchemaParam(connectionString) {
  const u = new URL(connectionString);
  const schema = u.searchParams.get("schema") ?? undefined;
  u.searchParams.delete("schema");
  return { url: u.toString(), schema };
}

/** pg client config for a Prisma URL: `?schema=x` becomes the session's search_path, as in the native engine. */
function pgConfig(connectionString) {
  const { url, schema } = splitSchemaParam(connectionString);
  return schema ? { connectionString: url, options: `-c search_path=${quoteIdent(schema)}` } : { connectionString: url };
}

function withDatabase(connectionString, database) {
  const u = new URL(connectionString);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

function describeUrl(connectionString) {
  const u = new URL(connectionString);
  return {
    host: u.hostname || "localhost",
    port: u.port || "5432",
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
    user: decodeURIComponent(u.username || process.env.PGUSER || "postgres"),
  };
}

function quoteIdent(name) {
  return '"' + String(name).replaceAll('"', '""') + '"';
}

/** A short-lived pg client (outside the engine), e.g. for CREATE/DROP DATABASE. */
async function withClient(connectionString, fn) {
  const client = new pg.Client(pgConfig(connectionString));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Connect to a database other than the one in the URL on the same server, to run CREATE/DROP
 * DATABASE. Tries the URL's own database first (what the native engine does), then `postgres`, then
 * `template1` (the URL's database may be the one that does not exist yet).
 */
async function withMaintenanceClient(connectionString, fn, { avoid } = {}) {
  const own = describeUrl(connectionString).database;
  const candidates = [own, "postgres", "template1"].filter((d, i, all) => d !== avoid && all.indexOf(d) === i);
  let lastError;
  for (const db of candidates) {
    let client;
    try {
      client = new pg.Client({ connectionString: splitSchemaParam(withDatabase(connectionString, db)).url });
      await client.connect();
    } catch (e) {
      lastError = e;
      await client?.end().catch(() => {});
      if (e && (e.code === "3D000" || e.code === "28000" || e.code === "42501")) continue; // try the next database
      throw e;
    }
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw lastError;
}

/** Map a pg / socket error to the native engine's user-facing error (P1xxx codes). */
function userFacingConnectionError(e, connectionString) {
  const { host, port, database, user } = describeUrl(connectionString);
  const at = `${host}:${port}`;
  const code = e?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EHOSTUNREACH" || code === "EAI_AGAIN" || code === "ENETUNREACH" || code === "ECONNRESET") {
    return { error_code: "P1001", message: `Can't reach database server at \`${at}\`\n\nPlease make sure your database server is running at \`${at}\`.` };
  }
  if (code === "ETIMEDOUT") {
    return { error_code: "P1002", message: `The database server at \`${at}\` was reached but timed out.\n\nPlease try again.\n\nPlease make sure your database server is running at \`${at}\`.` };
  }
  if (code === "3D000") {
    return { error_code: "P1003", message: `Database \`${database}\` does not exist on the database server at \`${at}\`.` };
  }
  if (code === "28P01" || code === "28000") {
    return { error_code: "P1000", message: `Authentication failed against database server, the provided database credentials for \`${user}\` are not valid.\n\nPlease make sure to provide valid database credentials for the database server at \`${at}\`.` };
  }
  if (code === "42501") {
    return { error_code: "P1010", message: `User was denied access on the database \`${database}\`` };
  }
  if (code === "42P04") {
    return { error_code: "P1009", message: `Database \`${database}\` already exists on the database server at \`${at}\`` };
  }
  return null;
}

async function probeConnection(connectionString) {
  try {
    await withClient(connectionString, (c) => c.query("SELECT 1"));
    return null;
  } catch (e) {
    return userFacingConnectionError(e, connectionString) ?? { message: String(e?.message ?? e) };
  }
}

// ───────────────────────────── Workarounds for @prisma/adapter-pg 7.10.1 ─────────────────────────────

// Workaround 1: PostgreSQL's internal one-byte `"char"` type (OID 18, e.g. pg_constraint.contype,
// pg_class.relkind) has no mapping in adapter-pg's fieldToColumnType, so every introspection query
// that selects such a column fails with "Column type 'char' could not be deserialized". pg parses
// OID 18 as a string anyway; we relabel those result fields as `text` (OID 25) before adapter-pg
// looks at them. Patched on pg's Result class because adapter-pg reads `fields` from the result of
// both pool and transaction queries; this only affects this short-lived engine process.
const TEXT_OID = 25;
const CHAR_OID = 18;
const originalAddFields = pg.Result.prototype.addFields;
pg.Result.prototype.addFields = function addFieldsCharAsText(fieldDescriptions) {
  const fixed = fieldDescriptions.some((f) => f.dataTypeID === CHAR_OID)
    ? fieldDescriptions.map((f) => (f.dataTypeID === CHAR_OID ? { ...f, dataTypeID: TEXT_OID } : f))
    : fieldDescriptions;
  return originalAddFields.call(this, fixed);
};

// Workaround 2: adapter-pg's `executeScript` splits the script on every `;` and sends the pieces one
// by one. That breaks any migration with a `;` inside a string literal or a `$$ … $$` function body
// (trigger functions, DO blocks), and leaves half a migration applied when a statement fails. The
// native engine sends the whole script as one simple-protocol query (so PostgreSQL runs it as one
// implicit transaction); we do the same.
function fixExecuteScript(adapter) {
  adapter.executeScript = async function executeWholeScript(script) {
    try {
      await this.client.query(script);
    } catch (error) {
      this.onError(error); // adapter-pg's own error conversion (throws a DriverAdapterError)
    }
  }.bind(adapter);
  return adapter;
}

function pgAdapterFactory(connectionString) {
  const { schema } = splitSchemaParam(connectionString);
  return new PrismaPg(pgConfig(connectionString), schema ? { schema } : undefined);
}

/**
 * Reset a configured (external) shadow database to empty, like the native engine does before it
 * replays the migrations there: drop and recreate it, or, without the privileges for that, drop its
 * schemas one by one.
 */
async function resetExternalShadowDatabase(shadowUrl) {
  const { database } = describeUrl(shadowUrl);
  try {
    await withMaintenanceClient(
      shadowUrl,
      async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${quoteIdent(database)}`);
      },
      { avoid: database },
    );
    return;
  } catch (e) {
    log("WARN", `Could not drop and recreate the shadow database (${e?.message ?? e}); emptying it instead`);
  }
  await withClient(shadowUrl, async (c) => {
    const { rows } = await c.query(
      `SELECT nspname FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'`,
    );
    for (const { nspname } of rows) await c.query(`DROP SCHEMA ${quoteIdent(nspname)} CASCADE`);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(splitSchemaParam(shadowUrl).schema ?? "public")}`);
  });
}

/**
 * The driver adapter factory handed to the wasm engine.
 *
 * Workaround 3: adapter-pg 7.10.1's `connectToShadowDb` is broken in two ways. It builds the shadow
 * pool as `{ connectionString, database }`, and pg lets the connection string win, so the "shadow"
 * connection is the main database again (migrate dev then fails with "relation … already exists").
 * And its dispose drops the shadow database *before* ending the pool, which fails because the pool
 * is still connected, so `prisma_migrate_shadow_db_*` databases pile up. Here the shadow database
 * is created, connected to with a rewritten URL, and on dispose the pool is ended first and the
 * database then dropped WITH (FORCE).
 *
 * When `datasource.shadowDatabaseUrl` is configured, that database is used instead (reset first,
 * never dropped), as the native engine does.
 */
function createAdapterFactory({ url, shadowDatabaseUrl, offlineMain = false, opened = [] }) {
  return {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    async connect() {
      if (offlineMain) return offlineAdapter();
      const adapter = fixExecuteScript(await pgAdapterFactory(url).connect());
      opened.push(onceDisposable(adapter)); // ended by the shim after the request
      return adapter;
    },
    async connectToShadowDb() {
      if (shadowDatabaseUrl) {
        // The shadow database is wiped: never let that be the main database.
        if (sameDatabase(shadowDatabaseUrl, url)) throw new DriverAdapterError({ kind: "postgres", code: "P3014", severity: "ERROR", message: SHADOW_IS_MAIN });
        await resetExternalShadowDatabase(shadowDatabaseUrl);
        const adapter = fixExecuteScript(await pgAdapterFactory(shadowDatabaseUrl).connect());
        opened.push(onceDisposable(adapter));
        return adapter;
      }
      const name = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`;
      await withMaintenanceClient(url, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
      const adapter = fixExecuteScript(await pgAdapterFactory(withDatabase(url, name)).connect());
      const disposePool = adapter.dispose.bind(adapter);
      let disposed = false;
      const dispose = async () => {
        if (disposed) return;
        disposed = true;
        pendingShadowCleanups.delete(dispose);
        try {
          await disposePool(); // end the shadow pool first …
        } finally {
          // … then drop the database; FORCE ends any straggling session.
          await withMaintenanceClient(url, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`), { avoid: name });
        }
      };
      adapter.dispose = dispose;
      pendingShadowCleanups.add(dispose);
      return adapter;
    },
  };
}

/** Make `dispose` idempotent (the engine may dispose an adapter too; a pg pool must be ended once). */
function onceDisposable(adapter) {
  const dispose = adapter.dispose.bind(adapter);
  let done = null;
  adapter.dispose = () => (done ??= dispose());
  return adapter;
}

// Shadow databases still to drop if the process is told to stop while one is in use.
const pendingShadowCleanups = new Set();

/**
 * An adapter for the main connection of diffs that need no database (schema/empty → schema/empty,
 * migrations via the shadow database). The native engine does not connect at all for those; the
 * wasm engine insists on a connection when it starts and only runs its startup probe on it. This
 * answers the probe, so `migrate diff --from-empty --to-schema …` works without PostgreSQL running
 * and without the configured database existing. Anything else is refused loudly.
 */
function offlineAdapter() {
  const refuse = async (what) => {
    throw new Error(`${SHIM_NAME}: ${what} on the main database was not expected for this command (offline diff)`);
  };
  return {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    async queryRaw(query) {
      if (/pg_namespace/.test(query.sql) && /server_version_num/.test(query.sql)) {
        return {
          columnNames: ["exists", "version", "numeric_version"],
          columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
          rows: [[true, "PostgreSQL 15.0 (no connection: offline diff)", 150000]],
        };
      }
      return refuse(`query ${JSON.stringify(query.sql.slice(0, 80))}`);
    },
    executeRaw: () => refuse("executeRaw"),
    executeScript: () => refuse("executeScript"),
    startTransaction: () => refuse("startTransaction"),
    getConnectionInfo: () => ({ schemaName: "public", supportsRelationJoins: true }),
    async dispose() {},
  };
}

// ───────────────────────────── The wasm engine ─────────────────────────────

let wasmReady = null;

/** Instantiate the CLI's own schema_engine_bg.wasm with the published JS glue (Node cannot import .wasm). */
function loadWasm() {
  wasmReady ??= (async () => {
    const wasmPath = path.join(path.dirname(require.resolve("prisma/package.json")), "build", "schema_engine_bg.wasm");
    const bytes = fs.readFileSync(wasmPath);
    const module = await WebAssembly.compile(bytes);
    const missing = WebAssembly.Module.imports(module).filter((i) => typeof glue[i.name] !== "function");
    if (missing.length > 0) {
      throw new Error(
        `${SHIM_NAME}: @prisma/schema-engine-wasm does not match ${wasmPath} (missing imports: ${missing
          .slice(0, 5)
          .map((i) => i.name)
          .join(", ")}). Pin the glue version that matches the installed prisma.`,
      );
    }
    const instance = await WebAssembly.instantiate(module, { "./schema_engine_bg.js": glue });
    glue.__wbg_set_wasm(instance.exports);
    instance.exports.__wbindgen_start?.();
  })();
  return wasmReady;
}

// A datasource block is all the engine needs when the CLI passes no schema (as in `migrate diff`).
const BARE_DATAMODEL = 'datasource db {\n  provider = "postgresql"\n}\n';

function readDatamodels(files) {
  if (files.length === 0) return [["schema.prisma", BARE_DATAMODEL]];
  return files.map((f) => [f, fs.readFileSync(f, "utf8")]);
}

function isWasmPanic(e) {
  return e instanceof WebAssembly.RuntimeError || (e?.name === "RuntimeError" && /unreachable/.test(e?.message ?? ""));
}

// ───────────────────────────── Data-loss check ─────────────────────────────
// Reads a migration script as the engine renders it (one statement per `;` + newline, ALTER TABLE
// clauses separated by `,` + newline) and asks the database the same questions as the native
// destructive-change checker, with its wording. Covers: dropped non-empty tables, dropped columns
// with data, required columns added to non-empty tables, columns made required while NULLs exist,
// type casts of columns with data, unique indexes on non-empty tables, removed enum values.

const IDENT = String.raw`"((?:[^"]|"")*)"`;
const QNAME = String.raw`(?:${IDENT}\.)?${IDENT}`;
const unq = (s) => s?.replaceAll('""', '"');

async function checkDataLoss(client, script) {
  const warnings = [];
  const unexecutable = [];
  const qualified = (schema, table) => (schema ? `${quoteIdent(schema)}.${quoteIdent(table)}` : quoteIdent(table));
  const count = async (schema, table, where = "") => {
    try {
      const { rows } = await client.query(`SELECT count(*)::bigint AS n FROM ${qualified(schema, table)} ${where}`);
      return Number(rows[0].n);
    } catch {
      return 0; // created earlier in the same script, or already gone: nothing to lose
    }
  };
  const columnType = async (schema, table, column) => {
    try {
      const { rows } = await client.query(
        `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a
          WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`,
        [qualified(schema, table), column],
      );
      return rows[0]?.t ?? "unknown";
    } catch {
      return "unknown";
    }
  };

  const statements = script
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split(/;\s*\n/)
    .map((st) => st.replace(/^\s*--.*$/gm, "").trim())
    .filter(Boolean);

  for (const st of statements) {
    let m;
    if ((m = st.match(new RegExp(`^DROP TABLE ${QNAME}`)))) {
      const [schema, table] = [unq(m[1]), unq(m[2])];
      const n = await count(schema, table);
      if (n > 0) warnings.push(`You are about to drop the \`${table}\` table, which is not empty (${n} rows).`);
      continue;
    }
    if ((m = st.match(new RegExp(`^ALTER TABLE ${QNAME}\\s+([\\s\\S]*)$`)))) {
      const [schema, table, rest] = [unq(m[1]), unq(m[2]), m[3]];
      for (const clause of rest.split(/,\s*\n/).map((c) => c.trim())) {
        let c;
        if ((c = clause.match(new RegExp(`^DROP COLUMN ${IDENT}`)))) {
          const column = unq(c[1]);
          const n = await count(schema, table, `WHERE ${quoteIdent(column)} IS NOT NULL`);
          if (n > 0) warnings.push(`You are about to drop the column \`${column}\` on the \`${table}\` table, which still contains ${n} non-null values.`);
        } else if ((c = clause.match(new RegExp(`^ADD COLUMN\\s+${IDENT}\\s+(.*)$`, "s")))) {
          const [column, def] = [unq(c[1]), c[2]];
          if (/\bNOT NULL\b/i.test(def) && !/\bDEFAULT\b/i.test(def) && !/\bGENERATED\b/i.test(def)) {
            const n = await count(schema, table);
            if (n > 0) unexecutable.push(`Added the required column \`${column}\` to the \`${table}\` table without a default value. There are ${n} rows in this table, it is not possible to execute this step.`);
          }
        } else if ((c = clause.match(new RegExp(`^ALTER COLUMN ${IDENT} SET NOT NULL`)))) {
          const column = unq(c[1]);
          const n = await count(schema, table, `WHERE ${quoteIdent(column)} IS NULL`);
          if (n > 0) unexecutable.push(`Made the column \`${column}\` on table \`${table}\` required, but there are ${n} existing NULL values.`);
        } else if ((c = clause.match(new RegExp(`^ALTER COLUMN ${IDENT} (?:SET DATA )?TYPE (.+?)(?: USING .*)?$`, "s")))) {
          const [column, next] = [unq(c[1]), c[2].trim()];
          const n = await count(schema, table, `WHERE ${quoteIdent(column)} IS NOT NULL`);
          if (n > 0) {
            const prev = await columnType(schema, table, column);
            warnings.push(`You are about to alter the column \`${column}\` on the \`${table}\` table, which contains ${n} non-null values. The data in that column will be cast from \`${prev}\` to \`${next}\`.`);
          }
        }
      }
      continue;
    }
    if ((m = st.match(new RegExp(`^CREATE UNIQUE INDEX ${IDENT} ON ${QNAME}\\s*\\(([^)]*)\\)`)))) {
      const [schema, table] = [unq(m[2]), unq(m[3])];
      const columns = m[4].split(",").map((x) => unq(x.trim().replace(/^"|"$/g, "")).split(/\s+/)[0]);
      if ((await count(schema, table)) > 0) {
        warnings.push(`A unique constraint covering the columns \`[${columns.join(",")}]\` on the table \`${table}\` will be added. If there are existing duplicate values, this will fail.`);
      }
      continue;
    }
    if ((m = st.match(new RegExp(`^CREATE TYPE ${QNAME} AS ENUM \\(([\\s\\S]*)\\)$`))) && unq(m[2]).endsWith("_new")) {
      // Removing enum values is rendered as: CREATE TYPE "E_new" …; ALTER … TYPE "E_new"; rename; DROP TYPE "E_old".
      const [schema, name] = [unq(m[1]), unq(m[2]).slice(0, -"_new".length)];
      const next = [...m[3].matchAll(/'((?:[^']|'')*)'/g)].map((x) => x[1].replaceAll("''", "'"));
      try {
        const { rows } = await client.query(
          `SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typname = $1 AND n.nspname = coalesce($2, current_schema()) ORDER BY e.enumsortorder`,
          [name, schema ?? null],
        );
        const removed = rows.map((r) => r.enumlabel).filter((v) => !next.includes(v));
        if (removed.length > 0) warnings.push(`The values [${removed.join(",")}] on the enum \`${name}\` will be removed. If these variants are still used in the database, this will fail.`);
      } catch {
        /* the enum does not exist yet */
      }
    }
  }
  return { warnings, unexecutable };
}


// ───────────────────────────── CLI mode (`… cli <command>`) ─────────────────────────────

async function runCliCommand(args) {
  const [command] = args.cli;
  const url = args.datasource?.url;
  // The CLI discards the first stderr line of these commands and parses every other line as JSON,
  // so failures are written as one plain line followed by one JSON record (no trailing newline).
  const fail = (error) => {
    process.stderr.write(`${SHIM_NAME}: ${command} failed\n` + logRecord("ERROR", error.message, error.error_code ? { error_code: error.error_code } : {}));
    process.exitCode = 1;
  };
  if (!url) return fail({ message: "No datasource URL was passed (--datasource '{\"url\":…}')." });
  const { database } = describeUrl(url);
  try {
    switch (command) {
      case "can-connect-to-database": {
        const problem = await probeConnection(url);
        if (problem) return fail(problem);
        process.stdout.write(JSON.stringify({ ok: true }));
        return;
      }
      case "create-database":
        await withMaintenanceClient(url, (c) => c.query(`CREATE DATABASE ${quoteIdent(database)}`), { avoid: database });
        process.stdout.write(JSON.stringify({ databaseName: database }));
        return;
      case "drop-database":
        await withMaintenanceClient(url, (c) => c.query(`DROP DATABASE ${quoteIdent(database)} WITH (FORCE)`), { avoid: database });
        return;
      default:
        return fail({ message: `${SHIM_NAME}: unsupported cli command ${JSON.stringify(command)}` });
    }
  } catch (e) {
    return fail(userFacingConnectionError(e, url) ?? { message: String(e?.message ?? e) });
  }
}

// ───────────────────────────── JSON-RPC mode ─────────────────────────────

class RpcError extends Error {
  constructor(data) {
    super(data.message);
    this.data = data;
  }
}

/** Whether a `diff` target needs the main database (the others need nothing or the shadow database). */
function targetNeedsMainDatabase(target) {
  return target?.tag === "schemaDatasource" || target?.tag === "url";
}

function createRpcServer(args) {
  const url = args.datasource?.url;
  const shadowDatabaseUrl = args.datasource?.shadowDatabaseUrl || undefined;
  const datamodels = readDatamodels(args.datamodels);
  /**
   * A fresh wasm engine for one request, freed afterwards, with its connections ended: nothing
   * lingers between the CLI's requests (a pool left open would keep a shadow or main database busy),
   * and a request that needs no database (an offline diff) gets an engine without one. Creating an
   * engine costs one connection and one probe query.
   */
  async function withEngine(mode, fn) {
    await loadWasm();
    if (!url && mode === "online") {
      throw new RpcError({ is_panic: false, message: "No datasource URL: set `datasource.url` in prisma.config.ts." });
    }
    const opened = [];
    const factory = bindMigrationAwareSqlAdapterFactory(
      createAdapterFactory({ url: url ?? "postgresql://localhost/postgres", shadowDatabaseUrl, offlineMain: mode === "offline", opened }),
    );
    let engine;
    try {
      try {
        engine = await glue.SchemaEngine.new({ datamodels }, (line) => process.stderr.write(String(line) + "\n"), factory);
      } catch (e) {
        // The wasm engine connects eagerly (the native one lazily). Report connection problems with
        // the native engine's error codes so the CLI prints its usual messages.
        if (mode === "online" && !isWasmPanic(e)) {
          const problem = await probeConnection(url);
          if (problem?.error_code) throw new RpcError({ is_panic: false, ...problem });
        }
        throw e;
      }
      return await fn(engine);
    } finally {
      try {
        engine?.free();
      } catch {
        /* a panicked instance may refuse */
      }
      for (const adapter of opened) await adapter.dispose().catch(() => {});
    }
  }

  let nextOutgoingId = 1_000_000;
  const outgoing = new Map();
  function send(message) {
    process.stdout.write(JSON.stringify(message) + "\n");
  }
  /** Ask the CLI to print something (how the native engine returns `migrate diff` output). */
  function printViaCli(content) {
    const id = nextOutgoingId++;
    return new Promise((resolve) => {
      outgoing.set(id, resolve);
      send({ jsonrpc: "2.0", id, method: "print", params: { content } });
    });
  }

  async function dispatch(method, params) {
    switch (method) {
      case "diff": {
        const needsMain = targetNeedsMainDatabase(params.from) || targetNeedsMainDatabase(params.to);
        const usesMigrations = params.from?.tag === "migrations" || params.to?.tag === "migrations";
        if (usesMigrations && !shadowDatabaseUrl) {
          // The native engine's rule and message (its CLI diff has no driver adapter to make a shadow
          // database with), so a command that works here works with the native engine too.
          throw new RpcError({
            is_panic: false,
            message: "You must set `datasource.shadowDatabaseUrl` in your `prisma.config.ts` if you want to diff a migrations directory.",
          });
        }
        if (usesMigrations && url && sameDatabase(url, shadowDatabaseUrl)) {
          throw new RpcError({
            is_panic: false,
            error_code: "P3014",
            message: SHADOW_IS_MAIN,
          });
        }
        const { stdout, exitCode } = await withEngine(needsMain ? "online" : "offline", (e) => e.diff(params));
        if (stdout) await printViaCli(stdout.replace(/\n$/, ""));
        return { exitCode };
      }
      case "getDatabaseVersion":
        return withEngine("online", (e) => e.version(params ?? undefined));
      case "createDatabase": {
        const target = params?.datasource?.tag === "ConnectionString" ? params.datasource.url : url;
        const { database } = describeUrl(target);
        try {
          await withMaintenanceClient(target, (c) => c.query(`CREATE DATABASE ${quoteIdent(database)}`), { avoid: database });
        } catch (e) {
          const problem = userFacingConnectionError(e, target);
          if (problem) throw new RpcError({ is_panic: false, ...problem });
          throw e;
        }
        return { databaseName: database };
      }
      case "dbExecute": {
        const dt = params.datasourceType;
        if (dt?.tag === "url" && dt.url && (!url || !sameDatabase(dt.url, url))) {
          // The wasm engine can only execute on its own connection; a different URL gets its own client.
          await withClient(dt.url, (c) => c.query(params.script));
          return null;
        }
        await withEngine("online", (e) => e.dbExecute(params));
        return null;
      }
      case "getDatabaseDescription":
        throw new RpcError({ is_panic: false, message: `${SHIM_NAME}: getDatabaseDescription is not available in the wasm schema engine.` });
      case "debugPanic":
        await withEngine("offline", (e) => e.debugPanic());
        return null;
      case "createMigration":
        return createMigration(params);
      case "evaluateDataLoss":
        return evaluateDataLoss(params);
      case "schemaPush":
        return schemaPush(params);
      case "applyMigrations":
      case "devDiagnostic":
      case "diagnoseMigrationHistory":
      case "ensureConnectionValidity":
      case "introspect":
      case "introspectSql":
      case "markMigrationApplied":
      case "markMigrationRolledBack":
      case "reset": {
        // Called as a method: detaching it from the engine object loses the wasm pointer.
        const result = await withEngine("online", (e) => e[method](params));
        return result ?? null;
      }
      default:
        throw Object.assign(new Error(`Method not found: ${method}`), { rpcCode: -32601 });
    }
  }

  // Workaround 4: three engine methods are rebuilt here from parts of the wasm engine that work.
  //  - `createMigration` and `evaluateDataLoss` fail in the wasm engine with "PostgreSQL shadow DB
  //    must be provided through an external factory": unlike `diff` and `devDiagnostic`, they do not
  //    use the adapter factory's shadow database.
  //  - `schemaPush` (db push) runs, but its introspection ignores the schema's preview features, so
  //    it does not see partial indexes (`partialIndexes`) and tries to create existing ones again.
  // The next migration is `diff` (migration history replayed on a shadow database → target schema);
  // `db push` is `diff` (database → schema) executed as one script; the data-loss check is
  // `checkDataLoss` below, modelled on the native engine's destructive-change checker. The CLI calls
  // evaluateDataLoss right after applying every migration, so the database matches the history then,
  // which is what the native engine assumes too.

  const noFilters = { externalTables: [], externalEnums: [] };

  /** The script of the migration from the history to the target schema ("" when there is nothing to do). */
  async function nextMigrationScript(params) {
    const { stdout, exitCode } = await withEngine("offline", (e) =>
      e.diff({
        from: { tag: "migrations", ...params.migrationsList },
        to: { tag: "schemaDatamodel", files: params.schema.files },
        script: true,
        exitCode: true,
        filters: params.filters ?? noFilters,
      }),
    );
    return exitCode === 2 ? (stdout ?? "") : "";
  }

  /** Each migration step is rendered under a `-- StepKind` comment line (`-- CreateTable`, `-- AlterTable`, …). */
  function countSteps(script) {
    return script ? Math.max(1, (script.match(/^-- [A-Z][A-Za-z]*$/gm) ?? []).length) : 0;
  }

  let lastDataLoss = null; // evaluateDataLoss → createMigration (same process, same `migrate dev` run)

  async function evaluateDataLoss(params) {
    const script = await nextMigrationScript(params);
    const migrationSteps = countSteps(script);
    const { warnings, unexecutable } = migrationSteps > 0 ? await checkDataLossOrNote(script) : { warnings: [], unexecutable: [] };
    lastDataLoss = { warnings, unexecutable };
    return {
      migrationSteps,
      warnings: warnings.map((message, stepIndex) => ({ message, stepIndex })),
      unexecutableSteps: unexecutable.map((message, stepIndex) => ({ message, stepIndex })),
    };
  }

  async function checkDataLossOrNote(script) {
    try {
      return await withClient(url, (c) => checkDataLoss(c, script));
    } catch (e) {
      await printViaCli(
        `Note (${SHIM_NAME}): the data-loss check could not run (${String(e?.message ?? e).split("\n")[0]}). ` +
          "Review the generated SQL before applying it.",
      );
      return { warnings: [], unexecutable: [] };
    }
  }

  async function schemaPush(params) {
    const { stdout, exitCode } = await withEngine("online", (e) =>
      e.diff({
        from: { tag: "schemaDatasource", files: params.schema.files, configDir: process.cwd() },
        to: { tag: "schemaDatamodel", files: params.schema.files },
        script: true,
        exitCode: true,
        filters: params.filters ?? noFilters,
      }),
    );
    const script = exitCode === 2 ? (stdout ?? "") : "";
    if (!script) return { executedSteps: 0, warnings: [], unexecutable: [] };
    const { warnings, unexecutable } = await withClient(url, (c) => checkDataLoss(c, script));
    if (unexecutable.length > 0 || (warnings.length > 0 && !params.force)) return { executedSteps: 0, warnings, unexecutable };
    await withClient(url, (c) => c.query(script));
    return { executedSteps: countSteps(script), warnings, unexecutable: [] };
  }

  async function createMigration(params) {
    let script = await nextMigrationScript(params);
    if (!script && !params.draft) {
      return { connectorType: "postgresql", generatedMigrationName: "", migrationScript: null, extension: "sql" };
    }
    if (!script) script = "-- This is an empty migration.";
    const notes = [...(lastDataLoss?.warnings ?? []), ...(lastDataLoss?.unexecutable ?? [])];
    if (script && notes.length > 0) {
      // The header the native engine writes above a migration with data-loss warnings.
      script = `/*\n  Warnings:\n\n${notes.map((m) => `  - ${m}`).join("\n")}\n\n*/\n` + script;
    }
    const timestamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14); // UTC %Y%m%d%H%M%S
    const name = params.migrationName ? `${timestamp}_${params.migrationName}` : timestamp;
    return { connectorType: "postgresql", generatedMigrationName: name, migrationScript: script.endsWith("\n") ? script : script + "\n", extension: "sql" };
  }


  function errorResponse(id, e) {
    if (e?.rpcCode) return { jsonrpc: "2.0", id, error: { code: e.rpcCode, message: e.message } };
    let data;
    if (e instanceof RpcError) data = e.data;
    else if (isWasmPanic(e)) data = { is_panic: true, message: String(e.message), error: { message: `${SHIM_NAME}: the wasm schema engine panicked: ${e.message}` }, backtrace: e.stack };
    else if (e && typeof e.code === "string" && /^P\d{4}$/.test(e.code)) data = { is_panic: false, error_code: e.code, message: e.message, meta: e.meta ?? null };
    else data = { is_panic: false, message: String(e?.message ?? e) };
    if (data.error_code == null) delete data.error_code;
    if (data.is_panic) log("ERROR", data.error?.message ?? data.message);
    return { jsonrpc: "2.0", id, error: { code: 4466, message: "An error happened. Check the data field for details.", data } };
  }

  let queue = Promise.resolve();
  let poisoned = false;
  function onLine(line) {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      log("ERROR", `${SHIM_NAME}: could not parse a request: ${line.slice(0, 200)}`);
      return;
    }
    if (msg.method === undefined && msg.id !== undefined && outgoing.has(msg.id)) {
      // The CLI's answer to one of our `print` requests.
      outgoing.get(msg.id)();
      outgoing.delete(msg.id);
      return;
    }
    if (typeof msg.method !== "string") return;
    const isNotification = msg.id === undefined || msg.id === null;
    // One request at a time, in order, like the native engine's single connection.
    queue = queue.then(async () => {
      if (poisoned) {
        if (!isNotification) send(errorResponse(msg.id, new RpcError({ is_panic: true, message: "The schema engine panicked earlier.", error: { message: "The schema engine panicked earlier." } })));
        return;
      }
      try {
        const result = await dispatch(msg.method, msg.params);
        if (!isNotification) send({ jsonrpc: "2.0", id: msg.id, result: result ?? null });
      } catch (e) {
        if (isWasmPanic(e)) poisoned = true; // a trapped wasm instance cannot be used again
        if (!isNotification) send(errorResponse(msg.id, e));
      }
    });
  }

  async function close() {
    await queue.catch(() => {});
    for (const cleanup of pendingShadowCleanups) await cleanup().catch(() => {});
  }

  return { onLine, close };
}

function sameDatabase(a, b) {
  if (!a || !b) return false;
  try {
    const x = describeUrl(a);
    const y = describeUrl(b);
    const host = (h) => (h === "localhost" ? "127.0.0.1" : h.toLowerCase());
    return host(x.host) === host(y.host) && x.port === y.port && x.database === y.database;
  } catch {
    return false;
  }
}

// ───────────────────────────── main ─────────────────────────────

async function main() {
  const args = parseArgs(process.argv.slice(2));

  if (args.version) {
    await loadWasm();
    process.stdout.write(`schema-engine-cli ${glue.version?.() ?? "unknown"} (${SHIM_NAME}, ${fileURLToPath(import.meta.url)})\n`);
    return;
  }
  if (args.cli) {
    await runCliCommand(args);
    return;
  }

  const server = createRpcServer(args);
  // The CLI stops the engine by closing stdin (and, on Linux, sends SIGTERM right after).
  const finish = async (code) => {
    await server.close();
    process.exit(code);
  };
  process.on("SIGTERM", () => void finish(0));
  process.on("SIGINT", () => void finish(130));
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on("line", (line) => server.onLine(line));
  rl.on("close", () => void finish(0));
}

main().catch((e) => {
  log("ERROR", String(e?.stack ?? e));
  process.exit(1);
});
