import type { Redis } from "ioredis";
import type { Db } from "./db/client";
import { checkEvictionPolicy } from "./queue/redis-eviction";

/** Each dependency gets this long to answer a health check. */
const CHECK_TIMEOUT_MS = 1000;

async function check<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthReport {
  status: "ok" | "degraded";
  postgres: string;
  redis: string;
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
export async function checkHealth(deps: { db: Db; redis: Redis }): Promise<{ httpStatus: 200 | 503; report: HealthReport }> {
  const [postgres, redis] = await Promise.all([check(() => deps.db.$queryRaw`SELECT 1`), check(() => checkEvictionPolicy(deps.redis))]);
  const ok = postgres.ok && redis.ok;
  const warnings = redis.ok && redis.value.warning ? [redis.value.warning] : [];
  return {
    httpStatus: ok ? 200 : 503,
    report: {
      status: ok ? "ok" : "degraded",
      postgres: postgres.ok ? "ok" : `down: ${postgres.error}`,
      redis: redis.ok ? "ok" : `down: ${redis.error}`,
      redisEvictionPolicy: redis.ok ? redis.value.policy : null,
      warnings,
    },
  };
}
