import { z } from "zod";
import { failureSources, fingerprintSchema } from "../../../reliability/failures/groups";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const group = { source: z.enum(failureSources), fingerprint: fingerprintSchema };

/** admin.failures: failures grouped by error fingerprint; retry or discard a whole group. */
export const failuresAdminRouter = createTRPCRouter({
  groups: viewerProcedure
    .meta({ description: "Failed/dead events and failed sagas grouped by error fingerprint, largest first" })
    .input(z.object({ source: z.enum(failureSources).optional(), limit: z.number().int().min(1).max(200).default(50) }).default({ limit: 50 }))
    .query(({ ctx, input }) => ctx.failures.groups(input)),

  retryGroup: operatorProcedure
    .meta({ description: "Retry every failure of a group (outbox: fresh attempts; sagas: redrive)" })
    .input(z.object({ ...group, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.failures.retryGroup(input, auditContextOf(ctx, input.reason))),

  discardGroup: operatorProcedure
    .meta({ description: "Discard every failed or dead event of an outbox failure group" })
    .input(z.object({ ...group, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.failures.discardGroup(input, auditContextOf(ctx, input.reason))),
});
