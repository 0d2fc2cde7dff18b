import type { RedisClient } from "~/server/platform/redis";
import type { Logger } from "pino";
import type { Db } from "./db/client";
import { checkEvictionPolicy } from "./redis-eviction";

/** Each dependency gets this long to answer a health check. */
const CHECK_TIMEOUT_MS = 1000;

export interface HealthReport {
  status: "ok" | "degraded";
  /** Only "ok" or "down": the endpoint is public, so the reason (driver text, host names) goes to the log. */
  postgres: "ok" | "down";
  redis: "ok" | "down";
  /** Redis' maxmemory-policy (null when Redis is down or did not say). */
  redisEvictionPolicy: string | null;
  /** What works but is set up so it may lose work or slow convergence (e.g. an evicting Redis). */
  warnings: string[];
}

/**
 * Liveness plus the two dependencies (GET /api/health): 200 when PostgreSQL and Redis answer, 503
 * otherwise. An evicting Redis is a warning, not a failure: taking the app out of rotation for a
 * configuration that still works would be worse than the delays it may cause.
 */
export async function checkHealth(deps: { db: Db; redis: RedisClient; logger?: Pick<Logger, "warn"> }): Promise<{ httpStatus: 200 | 503; report: HealthReport }> {
  const check = async <T>(name: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const value = await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        }),
      ]);
      return { ok: true, value };
    } catch (error) {
      deps.logger?.warn({ err: error, dependency: name }, "health check: dependency down");
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  };
  const [postgres, redis] = await Promise.all([check("postgres", () => deps.db.$queryRaw`SELECT 1`), check("redis", () => checkEvictionPolicy(deps.redis))]);
  const ok = postgres.ok && redis.ok;
  const warnings = redis.ok && redis.value.warning ? [redis.value.warning] : [];
  return {
    httpStatus: ok ? 200 : 503,
    report: {
      status: ok ? "ok" : "degraded",
      postgres: postgres.ok ? "ok" : "down",
      redis: redis.ok ? "ok" : "down",
      redisEvictionPolicy: redis.ok ? redis.value.policy : null,
      warnings,
    },
  };
}
