import { z } from "zod";
import { bulkActions, bulkFilterSchema, type BulkAction, type BulkFilter } from "./filter";
import { sagaBulkActions, sagaBulkFilterSchema, type SagaBulkAction, type SagaBulkFilter } from "./saga-filter";

/**
 * The bulk contract: what a bulk action acts on (`target`) decides which actions and which filter
 * it takes. One discriminated union, so one bulk_operation table, one worker job and one progress
 * feed serve every target, and the compiler makes each new target handle every step.
 * `target` defaults to "outbox": callers from before sagas could be acted on keep working.
 */

/** Counting stops here: beyond it the dry run says "more than". */
export const DRY_RUN_COUNT_CAP = 100_000;

export const bulkTargets = ["outbox", "saga"] as const;
export type BulkTarget = (typeof bulkTargets)[number];

const outboxRequest = {
  target: z.literal("outbox").default("outbox"),
  action: z.enum(bulkActions, { error: "action must be outbox.retry or outbox.discard for outbox events" }),
  filter: bulkFilterSchema.default({}),
};
const sagaRequest = {
  target: z.literal("saga"),
  action: z.enum(sagaBulkActions, { error: "action must be saga.redrive, saga.abort or saga.resume for sagas" }),
  filter: sagaBulkFilterSchema.default({}),
};
const targetError = { error: "target must be outbox or saga" };

/** A dry run's input: a target, one of its actions, and its filter. */
export const bulkRequestSchema = z.discriminatedUnion("target", [z.object(outboxRequest), z.object(sagaRequest)], targetError);
export type BulkRequest = { target: "outbox"; action: BulkAction; filter: BulkFilter } | { target: "saga"; action: SagaBulkAction; filter: SagaBulkFilter };

const startFields = {
  /** The count the operator confirmed (from the dry run): kept on the operation and in the audit log. */
  dryRunCount: z.number().int().min(0).max(DRY_RUN_COUNT_CAP),
  batchSize: z.number().int().min(1).max(5_000).default(500),
};

/** A start's input: the request plus the confirmed count and the batch size (the router adds the reason). */
export function bulkStartSchemaWith<R extends z.ZodType>(reason: R) {
  return z.discriminatedUnion(
    "target",
    [z.object({ ...outboxRequest, ...startFields, reason }), z.object({ ...sagaRequest, ...startFields, reason })],
    targetError,
  );
}
export type BulkStart = BulkRequest & { dryRunCount: number; batchSize: number };

