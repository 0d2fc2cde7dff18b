import { createTRPCRouter } from "../../trpc";
import { cacheAdminRouter } from "./cache";
import { idempotencyAdminRouter } from "./idempotency";
import { liveAdminRouter } from "./live";
import { outboxAdminRouter } from "./outbox";
import { sagasRouter } from "./sagas";
import { traceAdminRouter } from "./trace";

/**
 * The operator dashboard's procedures, one sub-router per reliability mechanism
 * (outbox, idempotency, cache, sagas). Queries: viewers and operators; actions: operators.
 */
export const adminRouter = createTRPCRouter({
  idempotency: idempotencyAdminRouter,
  cache: cacheAdminRouter,
  outbox: outboxAdminRouter,
  sagas: sagasRouter,
  live: liveAdminRouter,
  trace: traceAdminRouter,
});
