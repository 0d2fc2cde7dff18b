import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/api/root";

export type AdminOutputs = inferRouterOutputs<AppRouter>["admin"];
export type AdminInputs = inferRouterInputs<AppRouter>["admin"];

export type OutboxFilter = NonNullable<AdminInputs["outbox"]["list"]["filter"]>;
export type OutboxStatus = NonNullable<OutboxFilter["status"]>[number];
export const OUTBOX_STATUSES: OutboxStatus[] = ["pending", "publishing", "published", "stalled", "failed", "dead", "discarded"];

export type SagaListInput = AdminInputs["sagas"]["list"];
export type SagaStatus = NonNullable<SagaListInput["status"]>[number];
export const SAGA_STATUSES: SagaStatus[] = ["running", "compensating", "completed", "compensated", "failed", "aborted"];

/** Inputs shared by a page's server prefetch and its client queries (same input, same cache key). */
export const overviewInputs = {
  outboxStats: { windowMinutes: 15 },
  blocked: { limit: 10 },
  sagaMetrics: {},
  idempotencyStats: {},
} as const;

export const PAGE_SIZE = 50;
export const RECORDS_PAGE = 25;
