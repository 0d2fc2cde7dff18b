import { getAppServices } from "~/server/composition";
import { SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS } from "~/server/api/http/retry-after";
import { checkHealth } from "~/server/platform/health";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness plus PostgreSQL and Redis (see server/health.ts); no error text in the public body, warnings (e.g. an evicting Redis) in it. */
export async function GET() {
  const { httpStatus, report } = await checkHealth(getAppServices());
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (httpStatus === 503) headers["Retry-After"] = String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS);
  return Response.json(report, { status: httpStatus, headers });
}
