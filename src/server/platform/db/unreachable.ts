/**
 * Whether an error means "the database cannot be reached right now" (down, restarting, refusing
 * connections, wrong database): an operational state that clients should meet as a 503 with a
 * retry hint, not a 500 carrying Prisma's or pg's message.
 */
const UNREACHABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1003", "P1017", "P2024"]);
const UNREACHABLE_ADAPTER_KINDS = new Set(["DatabaseNotReachable", "DatabaseDoesNotExist", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const UNREACHABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"]);

export function isDatabaseUnreachable(error: unknown): boolean {
  // Walk the cause chain: tRPC, the transaction helper and Prisma each may wrap the original.
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const err = e as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
    if (typeof err.code === "string") {
      if (UNREACHABLE_PRISMA_CODES.has(err.code) || UNREACHABLE_NODE_CODES.has(err.code)) return true;
      // pg: class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now)
      if (/^08...$/.test(err.code) || /^57P0[1-3]$/.test(err.code)) return true;
    }
    const kind = err.meta?.driverAdapterError?.cause?.kind;
    if (typeof kind === "string" && UNREACHABLE_ADAPTER_KINDS.has(kind)) return true;
  }
  return false;
}
