import type { RedisClient } from "~/server/platform/redis";
import { withDeadline } from "./deadline";
import { createErrorGate, type CacheLogger } from "./error-gate";

export interface RedisGuardOptions {
  redis: RedisClient;
  logger: CacheLogger;
  /** Deadline of one hot-path command (ms): past it the caller falls back to its loader. */
  commandTimeoutMs: number;
  /** After a Redis error, reads skip Redis for this long (ms) instead of paying the timeout on every request. */
  breakerMs: number;
  /** At most one log line per interval while Redis fails (ms). */
  errorLogIntervalMs: number;
  now: () => number;
}

/**
 * The state every part of the query cache shares about its Redis client: whether it may be used
 * right now (connected, breaker closed, cache not closed), the deadline of one hot-path command,
 * and the counted, rate-limited reporting of failures. One instance per cache; the read path,
 * invalidation and counter flushing all judge and report Redis through it.
 */
export function createRedisGuard(options: RedisGuardOptions) {
  const { redis, now, breakerMs, commandTimeoutMs } = options;
  const errors = createErrorGate(options.logger, options.errorLogIntervalMs, now);
  let breakerOpenUntil = 0;
  let closed = false;

  redis.on("error", (error: unknown) => {
    // ioredis emits connection errors as events; without a listener it prints each one.
    errors.report(error, "connection");
  });

  return {
    redis,
    errors,
    now,

    /** The command, or a CacheTimeoutError once the hot-path deadline has passed (see deadline.ts). */
    timely<T>(promise: Promise<T>): Promise<T> {
      return withDeadline(promise, commandTimeoutMs);
    },

    /** A command failed: count it, log (rate-limited), and keep reads off Redis for breakerMs. */
    fail(error: unknown, operation: string): void {
      breakerOpenUntil = now() + breakerMs;
      errors.report(error, operation);
    },

    /** Whether a read should go to Redis at all right now. */
    usable(): boolean {
      return !closed && redis.status === "ready" && now() >= breakerOpenUntil;
    },

    /** Whether commands may be sent at all (connected and not closed), breaker aside. */
    connected(): boolean {
      return !closed && redis.status === "ready";
    },

    /** A disconnected client fails no command (we do not send any): count and log the outage itself. */
    reportDisconnected(operation: string): void {
      if (!closed && redis.status !== "ready") errors.report(new Error(`Redis connection is ${redis.status}`), operation);
    },

    /** The connection came back: let reads try Redis again at once. */
    closeBreaker(): void {
      breakerOpenUntil = 0;
    },

    get breakerOpen(): boolean {
      return now() < breakerOpenUntil;
    },

    get closed(): boolean {
      return closed;
    },

    /** After this no command is sent; the client itself belongs to the caller. */
    markClosed(): void {
      closed = true;
    },
  };
}

export type RedisGuard = ReturnType<typeof createRedisGuard>;
