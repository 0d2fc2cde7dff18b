import { AsyncLocalStorage } from "node:async_hooks";
import type { Db, Prisma } from "./client";
import { POOL_CONNECTION_TIMEOUT_MS } from "./pool-timeouts";

/**
 * How long a transaction waits to start (a free pooled connection, then BEGIN): as long as a plain
 * query waits for its connection (POOL_CONNECTION_TIMEOUT_MS), and as the idempotency middleware's
 * transactions wait. Prisma's own default (2 s) assumed a quiet machine: under load a burst of
 * transactions queued behind a busy pool failed with "Unable to start a transaction in the given
 * time" while a query sent at the same moment would have waited and succeeded.
 */
export const TRANSACTION_MAX_WAIT_MS = POOL_CONNECTION_TIMEOUT_MS;

export type Tx = Prisma.TransactionClient;

/** Work that must wait until the surrounding transaction has committed (and never run if it rolls back). */
export type AfterCommit = () => Promise<void> | void;

/** The hooks of one transaction: collected while it runs, run once it has committed. */
export class AfterCommitHooks {
  private readonly hooks: AfterCommit[] = [];

  add(hook: AfterCommit) {
    this.hooks.push(hook);
  }

  /** Run every hook in order; a hook's failure does not stop the others (hooks log their own errors). */
  async run() {
    for (const hook of this.hooks.splice(0)) await Promise.resolve().then(hook).catch(() => {});
  }
}

/**
 * The ambient transaction. A caller higher up (the idempotency middleware) can open one
 * transaction around a whole mutation; domain code that asks for a transaction then joins it
 * instead of opening its own, so the business rows, the outbox event and the idempotency record
 * commit or roll back together. Without an ambient transaction, a new one is opened.
 *
 * Plain `db.…` calls join it too: every client made by `createDb` is wrapped by `ambientDb`
 * (./ambient-db.ts), which sends a call made while a transaction is ambient to that transaction's
 * connection. Code inside a transaction therefore never asks the pool for a second connection
 * while it holds one: with as many such requests as connections, that wait is a deadlock.
 *
 * `open` turns false when the transaction's callback returns: work that escaped it (a timer or a
 * promise it did not await) then uses the pool, never a transaction that has ended.
 */
interface Ambient {
  tx: Tx;
  hooks: AfterCommitHooks;
  open: boolean;
}

const ambient = new AsyncLocalStorage<Ambient>();

function openAmbient(): Ambient | undefined {
  const current = ambient.getStore();
  return current?.open ? current : undefined;
}

async function runAmbient<T>(tx: Tx, hooks: AfterCommitHooks, fn: () => Promise<T>): Promise<T> {
  const store: Ambient = { tx, hooks, open: true };
  try {
    return await ambient.run(store, fn);
  } finally {
    store.open = false;
  }
}

export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, options?: { timeout?: number; maxWait?: number }): Promise<T> {
  const current = openAmbient();
  if (current) return fn(current.tx);
  const hooks = new AfterCommitHooks();
  const result = await db.$transaction((tx) => runAmbient(tx, hooks, () => fn(tx)), { timeout: options?.timeout ?? 15_000, maxWait: options?.maxWait ?? TRANSACTION_MAX_WAIT_MS });
  await hooks.run();
  return result;
}

/**
 * Run fn with tx as the ambient transaction (for the code that opened it). That code must call
 * `hooks.run()` after its transaction commits, and drop the hooks if it rolls back.
 */
export function withAmbientTransaction<T>(tx: Tx, fn: () => Promise<T>, hooks: AfterCommitHooks): Promise<T> {
  return runAmbient(tx, hooks, fn);
}

export function currentTransaction(): Tx | undefined {
  return openAmbient()?.tx;
}

/**
 * Do this once the current transaction commits: at once when there is none. For side effects
 * outside PostgreSQL that others must not see before the rows they refer to (a queued job whose
 * worker would look for a row that is not committed yet).
 */
export async function afterCommit(hook: AfterCommit): Promise<void> {
  const current = openAmbient();
  if (current) current.hooks.add(hook);
  else await hook();
}

/**
 * Run reads in one REPEATABLE READ READ ONLY transaction: every query sees the snapshot its first
 * query took, so figures read by several queries (a dashboard's tiles) agree with each other even
 * while writers commit in between. Plain `db.…` calls inside join it (it is ambient); inside an
 * ambient transaction already, the reads join that one.
 */
export async function inReadSnapshot<T>(db: Db, fn: () => Promise<T>, options?: { timeout?: number }): Promise<T> {
  if (openAmbient()) return fn();
  return db.$transaction(
    async (tx) => {
      // The first statement of the transaction: it fixes the isolation before any snapshot is taken.
      await tx.$executeRaw`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`;
      return runAmbient(tx, new AfterCommitHooks(), fn);
    },
    { timeout: options?.timeout ?? 15_000, maxWait: TRANSACTION_MAX_WAIT_MS },
  );
}
