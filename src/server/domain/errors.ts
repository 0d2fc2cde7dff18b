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
  | "precondition_failed";

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new DomainError("bad_input", message, details);
export const notFound = (message: string) => new DomainError("not_found", message);
export const tooLarge = (message: string, details?: Record<string, unknown>) =>
  new DomainError("too_large", message, details);
