import { getEnv } from "~/env.js";
import { createMetricsHandler } from "~/server/api/metrics-handler";
import { getAppServices } from "~/server/composition";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

let handler: ((req: Request) => Promise<Response>) | undefined;

/** Prometheus metrics: a scraper with METRICS_TOKEN, or a signed-in viewer/operator (see server/api/metrics-handler.ts). */
export async function GET(req: Request) {
  handler ??= createMetricsHandler(getAppServices(), { token: getEnv().METRICS_TOKEN });
  return handler(req);
}
