import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { readSessionCookie } from "../auth/request-session";
import { TRPC_MAX_BATCH_SIZE } from "./limits";
import type { AppServices } from "../services";
import { appRouter } from "./root";
import { createHttpContext } from "./trpc";

/** The tRPC fetch handler at /api/trpc, for the Next.js route and for HTTP-level tests. */
export function createTrpcHttpHandler(services: AppServices) {
  return (req: Request) =>
    fetchRequestHandler({
      endpoint: "/api/trpc",
      req,
      router: appRouter,
      // Refused with 400 before any context or input is read (the app's batch link splits at it).
      maxBatchSize: TRPC_MAX_BATCH_SIZE,
      createContext: (opts) => createHttpContext(services, opts, readSessionCookie),
      onError({ error, path, type }) {
        // Expected client errors are answered, not logged as failures; 5xx are logged with the cause.
        if (error.code === "INTERNAL_SERVER_ERROR") {
          services.logger.error({ err: error.cause ?? error, path, type }, "tRPC procedure failed");
        }
      },
    });
}
