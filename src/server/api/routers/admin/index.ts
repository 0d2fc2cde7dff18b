import { createTRPCRouter } from "../../trpc";
import { auditAdminRouter } from "./audit";
import { cacheAdminRouter } from "./cache";
import { idempotencyAdminRouter } from "./idempotency";
import { outboxAdminRouter } from "./outbox";
import { sagasRouter } from "./sagas";
import { usersAdminRouter } from "./users";

/**
 * The operator dashboard's procedures, one sub-router per reliability mechanism
 * (outbox, idempotency, cache, sagas). Queries: viewers and operators; actions: operators.
 */
export const adminRouter = createTRPCRouter({
  audit: auditAdminRouter,
  idempotency: idempotencyAdminRouter,
  cache: cacheAdminRouter,
  outbox: outboxAdminRouter,
  sagas: sagasRouter,
  users: usersAdminRouter,
});
