import { getAppServices } from "~/server/app-services";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness plus the two dependencies: 200 when PostgreSQL and Redis answer, 503 otherwise. */
export async function GET() {
  const { db, redis } = getAppServices();
  const check = async (fn: () => Promise<unknown>) => {
    try {
      await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 1000))]);
      return "ok";
    } catch (error) {
      return `down: ${(error as Error).message}`;
    }
  };
  const [postgres, redisStatus] = await Promise.all([check(() => db.$queryRaw`SELECT 1`), check(() => redis.ping())]);
  const ok = postgres === "ok" && redisStatus === "ok";
  return Response.json({ status: ok ? "ok" : "degraded", postgres, redis: redisStatus }, { status: ok ? 200 : 503 });
}
