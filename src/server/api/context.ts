/**
 * The tRPC context: what every procedure and middleware is given. The inner context is the
 * process's services (composition.ts) plus who is calling; the HTTP context adds the request.
 */
import { TRPCError } from "@trpc/server";
import type { SessionUser } from "../auth/session";
import { isDatabaseUnreachable } from "../platform/db/unreachable";
import { correlationIdFromHeaders, newCorrelationId } from "../platform/correlation";
import type { AppServices } from "../services";
import { crossSiteRefusal, isSafeMethod } from "./http/origin-check";

/** Request-scoped facts the HTTP layer knows; absent when a procedure is called in-process. */
export interface RequestMeta {
  headers: Headers;
  /** Response headers the procedure may add to (Set-Cookie, Idempotent-Replayed, Retry-After). */
  resHeaders: Headers;
  /** Assigned at the HTTP edge (platform/correlation.ts) and sent back as X-Request-Id. */
  correlationId?: string;
  /**
   * Set by the HTTP handler's context only: the call's result is serialized by tRPC's response
   * transformer (and never seen by other code), so a cached result may stay serialized.
   */
  serializedByHandler?: boolean;
}

/** The inner context: what tests and server components build directly (no HTTP needed). */
export interface InnerContext extends AppServices {
  user: SessionUser | null;
  request: RequestMeta | null;
  /** Joins this call's records, events, jobs and log lines (see platform/correlation.ts). */
  correlationId: string;
}

/** The logger is the process's, narrowed to this request: every line it writes names the correlation id. */
export function createInnerContext(services: AppServices, user: SessionUser | null, request: RequestMeta | null = null): InnerContext {
  const correlationId = request?.correlationId ?? newCorrelationId();
  return { ...services, logger: services.logger.child({ correlationId }), user, request, correlationId };
}

/** Clients meet an unreachable database as a 503 they can retry, never as the driver's message. */
export const DATABASE_UNAVAILABLE_MESSAGE = "MetaStore cannot reach its database right now: try again in a minute";

/**
 * The outer context: refuses cross-site mutations (CSRF: see http/origin-check.ts), then reads the
 * session cookie from the HTTP request. Errors thrown here answer every call of the request.
 */
export async function createHttpContext(
  services: AppServices,
  opts: { req: Request; resHeaders: Headers },
  readSessionCookie: (req: Request) => string | undefined,
  correlationId: string = correlationIdFromHeaders(opts.req.headers),
): Promise<InnerContext> {
  if (!isSafeMethod(opts.req.method)) {
    const refusal = crossSiteRefusal(opts.req, services.config.appOrigin);
    if (refusal) throw new TRPCError({ code: "FORBIDDEN", message: refusal });
  }
  let user: SessionUser | null;
  try {
    user = await services.sessions.resolve(readSessionCookie(opts.req));
  } catch (error) {
    if (isDatabaseUnreachable(error)) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE, cause: error });
    throw error;
  }
  return createInnerContext(services, user, { headers: opts.req.headers, resHeaders: opts.resHeaders, correlationId, serializedByHandler: true });
}

