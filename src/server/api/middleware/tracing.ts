/**
 * One span per tRPC procedure call, the parent of everything the call does (SQL, Redis, the
 * outbox events and saga it writes carry its context on). Outermost middleware, so the span
 * covers auth, cache, idempotency and the handler, and its status is the caller's answer.
 * Tracing off (and logging above debug): the middleware is a plain pass-through (see
 * platform/telemetry/tracing.ts).
 */
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { withRequestLogger } from "../../platform/request-logger";
import { markSpanError, SpanKind, tracingEnabled, withSpan } from "../../platform/telemetry/tracing";
import type { InnerContext } from "../context";
import { t, type MiddlewareResult } from "../init";

interface TracingMiddlewareOptions {
  ctx: InnerContext;
  type: string;
  path: string;
  next: () => Promise<MiddlewareResult>;
}

export function tracingMiddleware(opts: TracingMiddlewareOptions): Promise<MiddlewareResult> {
  // The services are built once per process: what they log during this call is logged as this
  // request (its correlation id), through the request's logger put in scope here.
  return withRequestLogger(opts.ctx.logger, () => tracedAndLogged(opts));
}

async function tracedAndLogged(opts: TracingMiddlewareOptions): Promise<MiddlewareResult> {
  // One access line per call at debug level (off at the default info: pino checks the level first).
  // Path, type, status and duration only: never input, cookies or file contents.
  if (!opts.ctx.logger.isLevelEnabled("debug")) return traced(opts);
  const started = performance.now();
  const result = await traced(opts);
  const status = result.ok ? 200 : getHTTPStatusCodeFromError(result.error);
  opts.ctx.logger.debug({ path: opts.path, type: opts.type, status, durationMs: Math.round(performance.now() - started) }, "tRPC call");
  return result;
}

function traced({ ctx, type, path, next }: TracingMiddlewareOptions): Promise<MiddlewareResult> {
  if (!tracingEnabled()) return next();
  const attributes = {
    "rpc.system": "trpc",
    "rpc.method": path,
    "trpc.type": type,
    "metastore.correlation_id": ctx.correlationId,
    ...(ctx.user ? { "enduser.id": ctx.user.id } : {}),
  };
  return withSpan(`trpc ${path}`, { kind: SpanKind.SERVER, attributes }, async (span) => {
    const result = await next();
    if (result.ok) span?.setAttribute("http.response.status_code", 200);
    else {
      const status = getHTTPStatusCodeFromError(result.error);
      span?.setAttribute("http.response.status_code", status);
      span?.setAttribute("trpc.error_code", result.error.code);
      // 4xx are the caller's mistakes, not failures of this service (OpenTelemetry's HTTP conventions).
      if (status >= 500) markSpanError(span, result.error.code);
    }
    return result;
  });
}

/** The tracing middleware, for the procedure ladder (trpc.ts). */
export const tracing = t.middleware(tracingMiddleware);
