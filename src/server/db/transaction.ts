import { AsyncLocalStorage } from "node:async_hooks";
import type { Db, Prisma } from "./client";

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
 */
const ambient = new AsyncLocalStorage<{ tx: Tx; hooks: AfterCommitHooks }>();

export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, options?: { timeout?: number }): Promise<T> {
  const current = ambient.getStore();
  if (current) return fn(current.tx);
  const hooks = new AfterCommitHooks();
  const result = await db.$transaction((tx) => ambient.run({ tx, hooks }, () => fn(tx)), { timeout: options?.timeout ?? 15_000 });
  await hooks.run();
  return result;
}

/**
 * Run fn with tx as the ambient transaction (for the code that opened it). That code must call
 * `hooks.run()` after its transaction commits, and drop the hooks if it rolls back.
 */
export function withAmbientTransaction<T>(tx: Tx, fn: () => Promise<T>, hooks: AfterCommitHooks): Promise<T> {
  return ambient.run({ tx, hooks }, fn);
}

export function currentTransaction(): Tx | undefined {
  return ambient.getStore()?.tx;
}

/**
 * Do this once the current transaction commits: at once when there is none. For side effects
 * outside PostgreSQL that others must not see before the rows they refer to (a queued job whose
 * worker would look for a row that is not committed yet).
 */
export async function afterCommit(hook: AfterCommit): Promise<void> {
  const current = ambient.getStore();
  if (current) current.hooks.add(hook);
  else await hook();
}
