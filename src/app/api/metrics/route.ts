import { timingSafeEqual } from "node:crypto";
import type { Registry } from "prom-client";
import { getEnv } from "~/env.js";
import { getAppServices } from "~/server/app-services";
import { readSessionCookie } from "~/server/auth/request-session";
import { createMetricsRegistry } from "~/server/metrics/prometheus";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

let registry: Registry | undefined;

function bearerMatches(header: string | null, token: string) {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, "") ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Prometheus metrics: a scraper with METRICS_TOKEN, or a signed-in viewer/operator. */
export async function GET(req: Request) {
  const services = getAppServices();
  const token = getEnv().METRICS_TOKEN;
  if (token) {
    if (!bearerMatches(req.headers.get("authorization"), token)) {
      return Response.json({ error: "Send Authorization: Bearer <METRICS_TOKEN>" }, { status: 401 });
    }
  } else {
    const user = await services.sessions.resolve(readSessionCookie(req));
    if (!user) return Response.json({ error: "Sign in as a viewer or operator, or set METRICS_TOKEN for scrapers" }, { status: 401 });
    if (user.role === "user") return Response.json({ error: "Only viewers and operators may read metrics" }, { status: 403 });
  }
  registry ??= createMetricsRegistry(services);
  return new Response(await registry.metrics(), { headers: { "Content-Type": registry.contentType } });
}
