import { timingSafeEqual } from "node:crypto";
import type { Registry } from "prom-client";
import { PASSWORD_CHANGE_REQUIRED_MESSAGE } from "../auth/password-rules";
import { readSessionCookie } from "../auth/request-session";
import { createMetricsRegistry } from "../metrics/prometheus";
import type { AppServices } from "../services";

function bearerMatches(header: string | null, token: string) {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, "") ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * GET /api/metrics (Prometheus): a scraper with METRICS_TOKEN, or a signed-in viewer/operator.
 * Built from the services like the tRPC handler, so tests drive the code the route serves.
 */
export function createMetricsHandler(services: AppServices, options: { token?: string }) {
  let registry: Registry | undefined;
  return async (req: Request): Promise<Response> => {
    const { token } = options;
    if (token) {
      if (!bearerMatches(req.headers.get("authorization"), token)) {
        return Response.json({ error: "Send Authorization: Bearer <METRICS_TOKEN>" }, { status: 401 });
      }
    } else {
      const user = await services.sessions.resolve(readSessionCookie(req));
      if (!user) return Response.json({ error: "Sign in as a viewer or operator, or set METRICS_TOKEN for scrapers" }, { status: 401 });
      if (user.mustChangePassword) return Response.json({ error: PASSWORD_CHANGE_REQUIRED_MESSAGE }, { status: 403 });
      if (user.role === "user") return Response.json({ error: "Only viewers and operators may read metrics" }, { status: 403 });
    }
    registry ??= createMetricsRegistry(services);
    return new Response(await registry.metrics(), { headers: { "Content-Type": registry.contentType } });
  };
}
