/**
 * Whether an error means "the database cannot be reached right now" (down, restarting, refusing
 * connections, wrong database, no connection free in time): an operational state that clients
 * should meet as a 503 with a retry hint, not a 500 carrying Prisma's or pg's message.
 */
const UNREACHABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1003", "P1017", "P2024"]);
const UNREACHABLE_ADAPTER_KINDS = new Set(["DatabaseNotReachable", "DatabaseDoesNotExist", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const UNREACHABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"]);

/**
 * Failures `pg` and `pg-pool` raise as plain Errors without a code (their own messages, stable
 * across pg 8): the socket closed under a query, a client left broken by an earlier connection
 * error, no pooled connection free within connectionTimeoutMillis.
 */
const UNREACHABLE_DRIVER_MESSAGES = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^timeout exceeded when trying to connect$/,
];

/** Prisma's interactive transaction could not get a connection within maxWait (pool exhausted or the server not answering). */
const TRANSACTION_START_TIMEOUT = /^Transaction API error: Unable to start a transaction in the given time/;

/** pg SQLSTATE: class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now). */
function isUnreachableSqlState(code: string): boolean {
  return /^08...$/.test(code) || /^57P0[1-3]$/.test(code);
}

export function isDatabaseUnreachable(error: unknown): boolean {
  // Walk the cause chain: tRPC, the transaction helper and Prisma each may wrap the original.
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const err = e as { code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown; originalCode?: unknown } } } };
    if (typeof err.code === "string") {
      if (UNREACHABLE_PRISMA_CODES.has(err.code) || UNREACHABLE_NODE_CODES.has(err.code) || isUnreachableSqlState(err.code)) return true;
      if (err.code === "P2028" && typeof err.message === "string" && TRANSACTION_START_TIMEOUT.test(err.message)) return true;
    }
    if (typeof err.message === "string" && UNREACHABLE_DRIVER_MESSAGES.some((pattern) => pattern.test(err.message as string))) return true;
    // Prisma reports a PostgreSQL error through the driver adapter (e.g. P2010 "Raw query failed"
    // for pg_terminate_backend's 57P01): the SQLSTATE is on the adapter error's cause.
    const adapterCause = err.meta?.driverAdapterError?.cause;
    if (typeof adapterCause?.kind === "string" && UNREACHABLE_ADAPTER_KINDS.has(adapterCause.kind)) return true;
    for (const code of [adapterCause?.code, adapterCause?.originalCode]) {
      if (typeof code === "string" && isUnreachableSqlState(code)) return true;
    }
  }
  return false;
}
