import { getAppServices } from "~/server/app-services";
import { checkHealth } from "~/server/health";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness plus PostgreSQL and Redis (see server/health.ts); no error text in the public body. */
export function GET() {
  return checkHealth(getAppServices());
}
