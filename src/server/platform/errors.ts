/**
 * Errors the domain raises on purpose. They carry a transport-neutral kind that the tRPC layer maps
 * to its error codes (and HTTP statuses); anything else that escapes is an unexpected 500.
 */
export type DomainErrorKind =
  | "bad_input"
  | "not_found"
  | "forbidden"
  | "conflict"
  | "too_large"
  | "unsupported"
  | "precondition_failed"
  /** A dependency (Redis) did not answer in time: nothing changed, the caller may retry shortly (503). */
  | "unavailable";

export class DomainError extends Error {
  /**
   * True when the same request may well succeed if sent again (a race lost a few times in a row):
   * such an answer is never stored for Idempotency-Key replay.
   */
  readonly transient: boolean;

  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
    options: { transient?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.transient = options.transient ?? false;
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new DomainError("bad_input", message, details);
export const notFound = (message: string) => new DomainError("not_found", message);
export const tooLarge = (message: string, details?: Record<string, unknown>) =>
  new DomainError("too_large", message, details);
