import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/api/root";
import type { FileEventType } from "~/server/contracts/events";
import type { OutboxViewStatus, SagaStatus } from "~/server/contracts/statuses";
import type { LIVE_FAILURE_GROUPS_LIMIT, LIVE_OUTBOX_WINDOW_MINUTES } from "~/server/reliability/live/live-feeds";

export type AdminOutputs = inferRouterOutputs<AppRouter>["admin"];
export type AdminInputs = inferRouterInputs<AppRouter>["admin"];

export type OutboxFilter = NonNullable<AdminInputs["outbox"]["list"]["filter"]>;
export type OutboxStatus = OutboxViewStatus;
export type SagaListInput = AdminInputs["sagas"]["list"];
export type { SagaStatus };

/**
 * The console needs the lists at run time, but may import the server's contracts only as types
 * (nothing of the server reaches the client bundle). So each list is the keys of a record typed
 * by the contract: adding, removing or misspelling a status in contracts/statuses.ts or
 * contracts/events.ts fails the type check here. Key order is display order.
 */
const listOf = <K extends string>(members: Record<K, true>) => Object.keys(members) as K[];

export const OUTBOX_STATUSES = listOf<OutboxStatus>({ pending: true, publishing: true, published: true, stalled: true, failed: true, dead: true, discarded: true });
export const SAGA_STATUSES = listOf<SagaStatus>({ running: true, compensating: true, completed: true, compensated: true, failed: true, aborted: true });
/** Offered as suggestions in the outbox filter (any type may still be typed in). */
export const FILE_EVENT_TYPES = listOf<FileEventType>({ "file.uploaded": true, "file.renamed": true, "file.tagged": true, "file.deleted": true });

/**
 * Inputs shared by a page's server prefetch and its client queries (same input, same cache key).
 * The live snapshots are read with the same window and limit (checked here, type-only: no server
 * code reaches the client bundle), so a snapshot can stand in for the query's answer.
 */
export const overviewInputs = {
  outboxStats: { windowMinutes: 15 satisfies typeof LIVE_OUTBOX_WINDOW_MINUTES },
  blocked: { limit: 10 },
  sagaMetrics: {},
  idempotencyStats: {},
  failureGroups: { limit: 5 satisfies typeof LIVE_FAILURE_GROUPS_LIMIT },
} as const;

export const PAGE_SIZE = 50;
export const RECORDS_PAGE = 25;
