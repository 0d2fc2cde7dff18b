import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "~/server/api/root";
import { createHttpContext } from "~/server/api/trpc";
import { getAppServices } from "~/server/app-services";
import { readSessionCookie } from "~/server/auth/request-session";

// Prisma, pg and ioredis need the Node.js runtime.
export const runtime = "nodejs";

function handler(req: Request) {
  const services = getAppServices();
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: (opts) => createHttpContext(services, opts, readSessionCookie),
    onError({ error, path, type }) {
      // Expected client errors are answered, not logged as failures; 5xx are logged with the cause.
      if (error.code === "INTERNAL_SERVER_ERROR") {
        services.logger.error({ err: error.cause ?? error, path, type }, "tRPC procedure failed");
      }
    },
  });
}

export { handler as GET, handler as POST };
