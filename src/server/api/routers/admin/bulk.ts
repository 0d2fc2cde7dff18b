import { z } from "zod";
import { bulkRequestSchema, bulkStartSchemaWith } from "../../../reliability/bulk/contract";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const operationId = z.uuid({ message: "must be a bulk operation id (a UUID)" });

/**
 * admin.bulk: act on every outbox event (retry, discard) or saga (redrive, abort, resume) matching
 * a filter. The input names its target ("outbox", the default, or "saga"), which decides the
 * actions and the filter it takes. Dry run first (count and sample), then start (a bulk_operation
 * row + a worker job, in batches), follow with get, cancel. Typed procedures, so scripts use them
 * as the console does.
 */
export const bulkAdminRouter = createTRPCRouter({
  dryRun: viewerProcedure
    .meta({ description: "What a bulk action with this filter would touch: count and a sample" })
    .input(bulkRequestSchema)
    .query(({ ctx, input }) => ctx.bulk.dryRun(input)),

  start: operatorProcedure
    .meta({ description: "Start a bulk action by filter (runs in the worker, in batches)" })
    .input(bulkStartSchemaWith(operatorReason))
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
