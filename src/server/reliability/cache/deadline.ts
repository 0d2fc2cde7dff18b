export class CacheTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = "CacheTimeoutError";
  }
}

/**
 * Reject if `promise` has not settled `ms` after the call — measured fairly. A plain timer (like
 * ioredis' commandTimeout) also fires when the reply is already in the socket buffer but this
 * process's event loop was too busy to read it: under load, a 20 ms timer then fails healthy
 * commands by the hundred (measured in bench:cache: 813 of ~4,500 cached reads fell back to the
 * database). So when the timer fires we wait one more turn of the loop (setImmediate runs after the
 * I/O poll phase) and only give up if the reply still has not been read.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!settled) {
          settled = true;
          reject(new CacheTimeoutError(ms));
        }
      });
    }, ms);
    promise.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
