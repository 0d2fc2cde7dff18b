import type { Db, Prisma } from "./client";
import { currentTransaction } from "./transaction";

/**
 * Members of the client that a transaction client lacks (Prisma's ITXClientDenyList): always the
 * base client's own. `$transaction` is handled apart: inside an ambient transaction it joins it.
 */
const CLIENT_ONLY = new Set<PropertyKey>(["$connect", "$disconnect", "$on", "$use", "$extends"]);

type TransactionArg = ((tx: Prisma.TransactionClient) => Promise<unknown>) | Array<PromiseLike<unknown>>;

/** `$transaction` while a transaction is ambient: the work joins it (as `inTransaction` does). */
function joinTransaction(tx: Prisma.TransactionClient) {
  return async (arg: TransactionArg) => {
    if (typeof arg === "function") return arg(tx);
    // Batch form: the queries were built on the ambient transaction (through this proxy); run them in order.
    const results: unknown[] = [];
    for (const query of arg) results.push(await query);
    return results;
  };
}

/**
 * The database handle every process uses: the Prisma client, except that while a transaction is
 * ambient (see transaction.ts) each query goes to that transaction's connection. So code called
 * inside a keyed mutation's transaction (a quota read, an operator action's load) can write plain
 * `db.user.findUnique(…)` and never asks the pool for a second connection while holding one.
 */
export function ambientDb(base: Db, options: { onDisconnect?: () => Promise<void> } = {}): Db {
  const { onDisconnect } = options;
  return new Proxy(base, {
    get(target, prop) {
      if (prop === "$disconnect" && onDisconnect) {
        return async () => {
          await onDisconnect();
          await target.$disconnect();
        };
      }
      const tx = currentTransaction();
      if (tx && !CLIENT_ONLY.has(prop)) {
        if (prop === "$transaction") return joinTransaction(tx);
        const member: unknown = Reflect.get(tx, prop);
        if (member !== undefined) return typeof member === "function" ? member.bind(tx) : member;
      }
      const member: unknown = Reflect.get(target, prop, target);
      return typeof member === "function" ? member.bind(target) : member;
    },
  });
}
