import type { AppServices } from "./services";

/**
 * GET /api/health: liveness plus the two dependencies, 200 when PostgreSQL and Redis answer, 503
 * otherwise. The endpoint is public, so its body says only "ok" or "down" per dependency; the
 * reason (driver messages, host names) goes to the log for operators.
 */
export async function checkHealth(services: Pick<AppServices, "db" | "redis" | "logger">): Promise<Response> {
  const check = async (name: string, fn: () => Promise<unknown>) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no answer within 1 s")), 1000)))]);
      return "ok" as const;
    } catch (error) {
      services.logger.warn({ err: error, dependency: name }, "health check: dependency down");
      return "down" as const;
    } finally {
      clearTimeout(timer);
    }
  };
  const [postgres, redis] = await Promise.all([check("postgres", () => services.db.$queryRaw`SELECT 1`), check("redis", () => services.redis.ping())]);
  const ok = postgres === "ok" && redis === "ok";
  return Response.json({ status: ok ? "ok" : "degraded", postgres, redis }, { status: ok ? 200 : 503, headers: { "Cache-Control": "no-store" } });
}
