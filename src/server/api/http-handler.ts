import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { readSessionCookie } from "../auth/request-session";
import { TRPC_MAX_BATCH_SIZE } from "./limits";
import type { AppServices } from "../services";
import { bodyLimitFor, limitRequestBody } from "./http/body-limit";
import { assignErrorId } from "./http/error-id";
import { hasServiceUnavailable, withRetryAfter } from "./http/retry-after";
import { appRouter } from "./root";
import { createHttpContext } from "./trpc";
import { correlationIdFromHeaders, REQUEST_ID_HEADER } from "../platform/correlation";
import { withIncomingTraceContext } from "../platform/telemetry/http";

export const DEFAULT_MAX_JSON_BODY_BYTES = 1024 * 1024;

/** The tRPC fetch handler at /api/trpc, for the Next.js route and for HTTP-level tests. */
export function createTrpcHttpHandler(services: AppServices) {
  const limits = {
    maxUploadBytes: services.config.maxUploadBytes,
    maxJsonBodyBytes: services.config.maxJsonBodyBytes ?? DEFAULT_MAX_JSON_BODY_BYTES,
  };
  const handle = (incoming: Request) => withIncomingTraceContext(incoming.headers, async () => {
    // Every request gets its correlation id here, at the edge, and the caller gets it back.
    const correlationId = correlationIdFromHeaders(incoming.headers);
    // Every body is counted as it streams in, whatever Content-Length says (or does not say).
    const { limitBytes, message } = bodyLimitFor(incoming, limits);
    const req = limitRequestBody(incoming, limitBytes, () => new TRPCError({ code: "PAYLOAD_TOO_LARGE", message }));
    // Set by responseMeta, which sees every call's error (a batch answers 207 with a 503 inside),
    // and by onError: a streamed response (SSE subscription, jsonl batch) calls responseMeta with
    // no errors, since its headers go out before its results are known; but a 503 that comes
    // before the first byte (the session lookup in createContext finding PostgreSQL unreachable;
    // for a subscription, any middleware's) reaches onError before the Response is returned.
    let unavailable = false;
    let answered = false;
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req,
      router: appRouter,
      // Refused with 400 before any context or input is read (the app's batch link splits at it).
      maxBatchSize: TRPC_MAX_BATCH_SIZE,
      createContext: (opts) => createHttpContext(services, opts, readSessionCookie, correlationId),
      responseMeta({ errors }) {
        unavailable ||= hasServiceUnavailable(errors);
        return {};
      },
      onError({ error, path, type }) {
        // A stream's errors once its headers are gone can no longer change them.
        if (!answered && error.code === "SERVICE_UNAVAILABLE") unavailable = true;
        // Expected client errors are answered, not logged as failures; 5xx are logged with the cause
        // and an error id, which is all the client is told (see errorFormatter in trpc.ts).
        if (error.code === "INTERNAL_SERVER_ERROR" || error.code === "SERVICE_UNAVAILABLE") {
          const errorId = assignErrorId(error);
          services.logger.error({ err: error.cause ?? error, errorId, path, type, correlationId }, "tRPC procedure failed");
        }
      },
    });
    answered = true;
    response.headers.set(REQUEST_ID_HEADER, correlationId);
    // Every 503 tells the client when to come back (the app's links and proxies honour it).
    return withRetryAfter(response, unavailable);
  });
  return services.requestMetrics ? services.requestMetrics.timeHttp("/api/trpc", handle) : handle;
}
