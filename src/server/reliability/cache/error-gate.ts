/** Minimal logger surface (pino's) so the domain does not depend on a logging library. */
export interface CacheLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Counts every Redis failure but logs at most one line per interval: when Redis is down every
 * request fails over, and a log line per request would bury everything else (and cost CPU).
 */
export function createErrorGate(logger: CacheLogger, intervalMs: number, now: () => number = Date.now) {
  let total = 0;
  let suppressed = 0;
  let lastLoggedAt = -Infinity;
  let lastError: { message: string; at: Date } | null = null;

  return {
    report(error: unknown, operation: string): void {
      total += 1;
      const message = error instanceof Error ? error.message : String(error);
      lastError = { message, at: new Date(now()) };
      if (now() - lastLoggedAt < intervalMs) {
        suppressed += 1;
        return;
      }
      logger.warn(
        { err: error, operation, suppressedSinceLastLog: suppressed, totalErrors: total },
        "query cache: Redis unavailable or slow, serving from the database",
      );
      lastLoggedAt = now();
      suppressed = 0;
    },
    get total() {
      return total;
    },
    get lastError() {
      return lastError;
    },
  };
}

export type ErrorGate = ReturnType<typeof createErrorGate>;
