import { createTrpcHttpHandler } from "~/server/api/http-handler";
import { getAppServices } from "~/server/composition";

// Prisma, pg and ioredis need the Node.js runtime.
export const runtime = "nodejs";

let handler: ((req: Request) => Promise<Response>) | undefined;

function handle(req: Request) {
  handler ??= createTrpcHttpHandler(getAppServices());
  return handler(req);
}

export { handle as GET, handle as POST };
