import { createHash } from "node:crypto";
import pg from "pg";
import type { Db } from "./client";

/**
 * Short autocommitted statements that a request sends WHILE it holds a transaction of the main
 * pool (the idempotency claim, sent concurrently with its mutation's BEGIN). On the main pool that
 * is a deadlock as soon as every connection is held by a transaction waiting for such a statement;
 * a small pool of their own cannot be taken by transactions. Raw `pg` (no Prisma): these statements
 * are on the hot path and need none of Prisma's mapping.
 */
export interface SideStatements {
  rows<T>(text: string, values: readonly unknown[]): Promise<T[]>;
  /** Rows affected. */
  count(text: string, values: readonly unknown[]): Promise<number>;
  /** True when the statements run on a pool of their own (safe to send while holding a transaction). */
  readonly ownPool: boolean;
}

/** Connections of the side pool per process: claims are one quick statement each. */
export const SIDE_POOL_MAX = 3;

const sidePools = new WeakMap<object, SidePool>();

interface SidePool {
  statements: SideStatements;
  transaction: SideTransaction;
  end(): Promise<void>;
}

/**
 * A transaction on raw `pg` (BEGIN, the callback's statements, COMMIT; ROLLBACK if it throws), for a
 * hot path whose transaction needs none of Prisma: an interactive Prisma transaction costs the
 * process measurable CPU per transaction (query compiler, result mapping, async hooks).
 */
export type SideTransaction = <T>(fn: (sql: Omit<SideStatements, "ownPool">) => Promise<T>, timeoutMs?: number) => Promise<T>;

/** As long as inTransaction lets a Prisma transaction run: a hung callback must not hold its row locks for ever. */
export const SIDE_TRANSACTION_TIMEOUT_MS = 15_000;

/**
 * Connections for side transactions: a pool of their own, so a transaction held open (its callback
 * runs between statements) never takes the connections of the short side statements (claims).
 */
export const SIDE_TRANSACTION_POOL_MAX = 2;

/**
 * A statement's text as a query config: named (a prepared statement) when `prepared`, so each
 * connection parses and plans it once and then only binds and executes it. The claim is a CTE
 * (INSERT … ON CONFLICT, UNION ALL, NOT EXISTS) whose parse and plan cost PostgreSQL about as much
 * CPU as running it (~0.3 ms of ~0.6 ms per claim here); prepared, that part goes. Only on a session
 * connection: behind a transaction pooler (PgBouncer in transaction mode) the next statement may
 * reach another server connection, where the name is unknown.
 */
function statementConfig(text: string, values: readonly unknown[], prepared: boolean): pg.QueryConfig {
  if (!prepared) return { text, values: values as unknown[] };
  let name = statementNames.get(text);
  if (name === undefined) {
    // Named by the text's hash: one name per text in every connection, never two texts per name.
    name = `side_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: values as unknown[] };
}

const statementNames = new Map<string, string>();

/**
 * The side pool of a client made by createDb, made on first use (processes that never use it open
 * none). `prepared`: the connection is a PostgreSQL session (no transaction pooler in between), so
 * its statements may be prepared once per connection (see statementConfig).
 */
export function createSidePool(connectionString: string, connectionTimeoutMillis: number, prepared = false): SidePool {
  let pool: pg.Pool | undefined;
  let txPool: pg.Pool | undefined;
  const make = (max: number) =>
    new pg.Pool({ connectionString, max, connectionTimeoutMillis, allowExitOnIdle: true }).on("error", () => {
      // An idle connection that broke (server restart): the pool drops it; the next statement reconnects.
    });
  const get = () => (pool ??= make(SIDE_POOL_MAX));
  const transaction: SideTransaction = async (fn, timeoutMs = SIDE_TRANSACTION_TIMEOUT_MS) => {
    const client = await (txPool ??= make(SIDE_TRANSACTION_POOL_MAX)).connect();
    let broken: unknown;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const run = async (text: string, values: readonly unknown[]) => {
      // A callback still running after its transaction timed out must not reach the connection again.
      if (ended) throw new Error("side transaction already ended (timed out)");
      return client.query(statementConfig(text, values, prepared));
    };
    try {
      await client.query("BEGIN");
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`side transaction timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      const result = await Promise.race([
        fn({
          rows: async <T>(text: string, values: readonly unknown[]) => (await run(text, values)).rows as T[],
          count: async (text: string, values: readonly unknown[]) => (await run(text, values)).rowCount ?? 0,
        }),
        timedOut,
      ]);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      ended = true;
      // Timed out: the callback may still hold a statement on the connection, so it is closed
      // (PostgreSQL rolls back). Otherwise ROLLBACK; if that fails the connection is unusable too.
      if (error instanceof Error && error.message.startsWith("side transaction timed out")) broken = error;
      else await client.query("ROLLBACK").catch((rollbackError: unknown) => (broken = rollbackError));
      throw error;
    } finally {
      ended = true;
      clearTimeout(timer);
      client.release(broken instanceof Error ? broken : undefined);
    }
  };
  return {
    transaction,
    statements: {
      ownPool: true,
      rows: async <T>(text: string, values: readonly unknown[]) => (await get().query(statementConfig(text, values, prepared))).rows as T[],
      count: async (text: string, values: readonly unknown[]) => (await get().query(statementConfig(text, values, prepared))).rowCount ?? 0,
    },
    end: async () => {
      const ending = [pool, txPool];
      pool = undefined;
      txPool = undefined;
      await Promise.all(ending.map((p) => p?.end()));
    },
  };
}

export function registerSidePool(db: Db, sidePool: SidePool) {
  sidePools.set(db, sidePool);
}

/** Ends the side pool of `db`, if it has one (with its $disconnect). */
export async function endSidePool(db: Db): Promise<void> {
  await sidePools.get(db)?.end();
}

/**
 * The side statements of `db`. A client not made by createDb (a test's own) has no side pool: its
 * statements then go through the client itself (`ownPool: false`), and a caller must not send them
 * while it holds a transaction of that client.
 */
export function sideStatements(db: Db): SideStatements {
  const own = sidePools.get(db);
  if (own) return own.statements;
  return {
    ownPool: false,
    rows: <T>(text: string, values: readonly unknown[]) => db.$queryRawUnsafe<T[]>(text, ...values),
    count: (text: string, values: readonly unknown[]) => db.$executeRawUnsafe(text, ...values),
  };
}

/** The raw-pg transactions of `db`, or undefined for a client not made by createDb (use Prisma's). */
export function sideTransaction(db: Db): SideTransaction | undefined {
  return sidePools.get(db)?.transaction;
}
