/**
 * Retry delays: exponential (base · 2^(failures-1), capped) with "equal jitter": a random point in
 * the upper part of the window, so relays that failed together do not retry in lockstep.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Share of the delay that is random (0 = none, 1 = anywhere from 0 to the full delay). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 5 * 60_000, jitter: 0.5 };

export function retryDelayMs(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.max(0, failures - 1);
  const full = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 30));
  return Math.round(full * (1 - policy.jitter) + random() * full * policy.jitter);
}
