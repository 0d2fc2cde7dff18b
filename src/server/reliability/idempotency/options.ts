/** Tunables of the idempotency mechanism. The composition root fills them from the environment. */
export interface IdempotencyOptions {
  /** How long a record (and so a replayable result) lives: IETF draft and Stripe use 24 hours. */
  ttlMs: number;
  /**
   * How long an in_progress claim is protected. A claim whose lease has passed belongs to a request
   * that died (its transaction rolled back with it); the next request with its key takes it over.
   * Must outlast the longest a live request can run (transactionMaxWaitMs + transactionTimeoutMs):
   * otherwise a retry may execute while the first is still running. Even then only one of the two
   * can commit (completion is conditional on the claim token), but the work is done twice.
   */
  leaseMs: number;
  /**
   * Timeout of the transaction that wraps a keyed mutation (Prisma's default of 5 s is short for an
   * upload, whose blob is written while the transaction is open).
   */
  transactionTimeoutMs: number;
  /** How long to wait for a pooled connection to open that transaction. */
  transactionMaxWaitMs: number;
}

export const DEFAULT_IDEMPOTENCY_OPTIONS: IdempotencyOptions = {
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 60_000,
  transactionTimeoutMs: 30_000,
  transactionMaxWaitMs: 10_000,
};

export function resolveIdempotencyOptions(partial: Partial<IdempotencyOptions> | undefined): IdempotencyOptions {
  return { ...DEFAULT_IDEMPOTENCY_OPTIONS, ...partial };
}
