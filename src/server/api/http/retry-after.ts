import type { TRPCError } from "@trpc/server";

/**
 * How long a client should wait before retrying a 503 (database unreachable, Redis not answering
 * in time): long enough for a connection pool or a Redis failover to recover, short enough that a
 * person clicking "retry" is not kept waiting. Sent as `Retry-After` on every 503 the API answers.
 */
export const SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** Whether a response carrying these errors is (or contains) a 503. */
export function hasServiceUnavailable(errors: readonly Pick<TRPCError, "code">[]): boolean {
  return errors.some((e) => e.code === "SERVICE_UNAVAILABLE");
}

/**
 * Add `Retry-After` to a response that answered a 503, unless a procedure set its own (a 409 or
 * 429 in the same batch knows better when to come back).
 */
export function withRetryAfter(response: Response, unavailable: boolean): Response {
  if (unavailable && !response.headers.has("retry-after")) response.headers.set("Retry-After", String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS));
  return response;
}
