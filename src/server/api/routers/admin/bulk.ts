import { z } from "zod";
import { bulkActions, bulkFilterSchema } from "../../../reliability/bulk/filter";
import { bulkStartSchema } from "../../../reliability/bulk/operations";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const operationId = z.uuid({ message: "must be a bulk operation id (a UUID)" });

/**
 * admin.bulk: retry or discard every outbox event matching a filter. Dry run first (count and
 * sample), then start (a bulk_operation row + a worker job, in batches), follow with get, cancel.
 * Typed procedures, so scripts use them as the console does.
 */
export const bulkAdminRouter = createTRPCRouter({
  dryRun: viewerProcedure
    .meta({ description: "What a bulk action with this filter would touch: count and a sample" })
    .input(z.object({ action: z.enum(bulkActions), filter: bulkFilterSchema.default({}) }))
    .query(({ ctx, input }) => ctx.bulk.dryRun(input.action, input.filter)),

  start: operatorProcedure
    .meta({ description: "Start a bulk action by filter (runs in the worker, in batches)" })
    .input(bulkStartSchema.extend({ filter: bulkFilterSchema.default({}), reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.bulk.start(input, auditContextOf(ctx, input.reason))),

  get: viewerProcedure
    .meta({ description: "One bulk operation: status, progress, counts" })
    .input(z.object({ id: operationId }))
    .query(({ ctx, input }) => ctx.bulk.get(input.id)),

  list: viewerProcedure
    .meta({ description: "Bulk operations, newest first" })
    .input(z.object({ cursor: operationId.optional(), limit: z.number().int().min(1).max(100).default(20) }).default({ limit: 20 }))
    .query(({ ctx, input }) => ctx.bulk.list(input)),

  cancel: operatorProcedure
    .meta({ description: "Cancel a bulk operation (at its next batch boundary)" })
    .input(z.object({ id: operationId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.bulk.cancel(input.id, auditContextOf(ctx, input.reason))),
});
