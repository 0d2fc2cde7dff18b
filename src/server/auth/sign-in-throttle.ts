import type { RedisClient } from "~/server/platform/redis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Logger } from "../platform/logger";

export interface SignInThrottleOptions {
  redis: RedisClient;
  /** Redis key prefix (the app's QUEUE_PREFIX: tests use their own). */
  prefix: string;
  logger: Logger;
  /** Defaults: 5 failures per account and 50 per address in 15 minutes (the env defaults). */
  maxFailuresPerAccount?: number;
  maxFailuresPerAddress?: number;
  windowSeconds?: number;
}

export type ThrottledAttempt<T> = { outcome: "ok"; value: T } | { outcome: "wrong" } | { outcome: "throttled"; retryAfterSeconds: number };

/**
 * Limits password guessing (each guess also costs an Argon2 hash on the thread pool uploads use):
 * failed sign-ins are counted per account and per client address over a window
 * (rate-limiter-flexible on Redis, shared by every web process). Once either count is used up,
 * attempts are refused with a retry delay before the password is even checked.
 *
 * The account key is the normalised email whether or not such an account exists, so a locked-out
 * account answers exactly like a locked-out unknown email: the throttle reveals nothing.
 * Redis may be down: each limiter then falls back to an in-memory one in this process (insurance),
 * so guessing stays limited instead of becoming unlimited or locking everyone out.
 */
export function createSignInThrottle(given: SignInThrottleOptions) {
  const options = { maxFailuresPerAccount: 5, maxFailuresPerAddress: 50, windowSeconds: 15 * 60, ...given };
  const limiter = (name: string, points: number) => {
    const window = { points, duration: options.windowSeconds, blockDuration: options.windowSeconds };
    return new RateLimiterRedis({
      ...window,
      storeClient: options.redis,
      keyPrefix: `${options.prefix}:signin-failures:${name}`,
      rejectIfRedisNotReady: true, // a disconnected client would queue commands: use the insurance at once
      insuranceLimiter: new RateLimiterMemory({ ...window, keyPrefix: `signin-failures:${name}` }),
    });
  };
  const byAccount = limiter("account", options.maxFailuresPerAccount);
  const byAddress = limiter("address", options.maxFailuresPerAddress);
  let throttledTotal = 0;

  const retryAfter = (res: RateLimiterRes | null, max: number) =>
    res && res.consumedPoints >= max ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 0;

  function throttled<T>(account: string, address: string | null, retryAfterSeconds: number): ThrottledAttempt<T> {
    throttledTotal++;
    options.logger.warn({ account, address, retryAfterSeconds }, "sign-in throttled: too many failed attempts");
    return { outcome: "throttled", retryAfterSeconds };
  }

  return {
    /**
     * Run `attempt` (the password check; null = wrong credentials) unless the account or the
     * address is locked out; a failure counts against both, a success clears the account's count.
     */
    async attempt<T>(email: string, address: string | null, attempt: () => Promise<T | null>): Promise<ThrottledAttempt<T>> {
      const account = email.trim().toLowerCase();
      const [accountRes, addressRes] = await Promise.all([byAccount.get(account), address ? byAddress.get(address) : null]);
      const wait = Math.max(retryAfter(accountRes, options.maxFailuresPerAccount), retryAfter(addressRes, options.maxFailuresPerAddress));
      if (wait > 0) return throttled(account, address, wait);

      const value = await attempt();
      if (value !== null) {
        await byAccount.delete(account);
        return { outcome: "ok", value };
      }
      try {
        await Promise.all([byAccount.consume(account), address ? byAddress.consume(address) : null]);
      } catch (rejection) {
        // Over the limit with this very failure (concurrent attempts raced past the check above).
        if (rejection instanceof RateLimiterRes) return throttled(account, address, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
        throw rejection;
      }
      return { outcome: "wrong" };
    },

    /** Attempts refused by this process since it started (a Prometheus counter). */
    throttledTotal: () => throttledTotal,
  };
}

export type SignInThrottle = ReturnType<typeof createSignInThrottle>;

/**
 * The client's address for per-address limits. Next.js puts the socket's address in
 * X-Forwarded-For unless the request already has that header; behind `trustedProxies` proxies that
 * each append the address they saw, the client is the entry that many places from the right. With no
 * trusted proxy, a client talking to Next.js directly can choose its own header value: the
 * per-account limit still holds, but deploy behind a proxy (and set TRUST_PROXY) for the
 * per-address limit to count.
 */
export function clientAddress(headers: Headers, trustedProxies: number): string | null {
  const chain = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (chain.length === 0) return headers.get("x-real-ip")?.trim() || null;
  return chain[Math.max(0, chain.length - Math.max(1, trustedProxies))] ?? null;
}
