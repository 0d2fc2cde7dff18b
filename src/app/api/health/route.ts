import { getAppServices } from "~/server/composition";
import { checkHealth } from "~/server/platform/health";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness plus PostgreSQL and Redis (see server/health.ts); no error text in the public body, warnings (e.g. an evicting Redis) in it. */
export async function GET() {
  const { httpStatus, report } = await checkHealth(getAppServices());
  return Response.json(report, { status: httpStatus, headers: { "Cache-Control": "no-store" } });
}
