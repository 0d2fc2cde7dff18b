import { AsyncLocalStorage } from "node:async_hooks";
import type { Db, Prisma } from "./client";

export type Tx = Prisma.TransactionClient;

/**
 * The ambient transaction. A caller higher up (the idempotency middleware) can open one
 * transaction around a whole mutation; domain code that asks for a transaction then joins it
 * instead of opening its own, so the business rows, the outbox event and the idempotency record
 * commit or roll back together. Without an ambient transaction, a new one is opened.
 */
const ambient = new AsyncLocalStorage<Tx>();

export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, options?: { timeout?: number }): Promise<T> {
  const current = ambient.getStore();
  if (current) return fn(current);
  return db.$transaction((tx) => ambient.run(tx, () => fn(tx)), { timeout: options?.timeout ?? 15_000 });
}

/** Run fn with tx as the ambient transaction (for the code that opened it). */
export function withAmbientTransaction<T>(tx: Tx, fn: () => Promise<T>): Promise<T> {
  return ambient.run(tx, fn);
}

export function currentTransaction(): Tx | undefined {
  return ambient.getStore();
}
