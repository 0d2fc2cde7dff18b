import { getAppServices } from "~/server/app-services";
import { checkHealth } from "~/server/health";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness plus the two dependencies: 200 when PostgreSQL and Redis answer, 503 otherwise; warnings (e.g. an evicting Redis) in the body. */
export async function GET() {
  const { httpStatus, report } = await checkHealth(getAppServices());
  return Response.json(report, { status: httpStatus });
}
