import { createTRPCRouter } from "../../trpc";
import { auditAdminRouter } from "./audit";
import { bulkAdminRouter } from "./bulk";
import { cacheAdminRouter } from "./cache";
import { fleetRouter } from "./fleet";
import { failuresAdminRouter } from "./failures";
import { idempotencyAdminRouter } from "./idempotency";
import { liveAdminRouter } from "./live";
import { outboxAdminRouter } from "./outbox";
import { sagasRouter } from "./sagas";
import { searchAdminRouter } from "./search";
import { traceAdminRouter } from "./trace";
import { usersAdminRouter } from "./users";

/**
 * The operator dashboard's procedures, one sub-router per reliability mechanism
 * (outbox, idempotency, cache, sagas) and the worker fleet. Queries: viewers and operators; actions: operators.
 */
export const adminRouter = createTRPCRouter({
  audit: auditAdminRouter,
  bulk: bulkAdminRouter,
  failures: failuresAdminRouter,
  idempotency: idempotencyAdminRouter,
  cache: cacheAdminRouter,
  outbox: outboxAdminRouter,
  sagas: sagasRouter,
  search: searchAdminRouter,
  live: liveAdminRouter,
  trace: traceAdminRouter,
  users: usersAdminRouter,
  fleet: fleetRouter,
});
