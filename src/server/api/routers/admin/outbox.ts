import { z } from "zod";
import { outboxFilterSchema } from "../../../reliability/outbox/queries";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const eventId = z.uuid({ message: "must be an outbox event id (a UUID)" });

/** admin.outbox: what the outbox holds and the operator's levers. Reads for viewers, actions for operators. */
export const outboxAdminRouter = createTRPCRouter({
  stats: viewerProcedure
    .meta({ description: "Outbox counts by status, oldest due event's age, publish/failure rates" })
    .input(z.object({ windowMinutes: z.number().int().min(1).max(24 * 60).default(15) }).default({ windowMinutes: 15 }))
    .query(({ ctx, input }) => ctx.outboxAdmin.stats(input)),

  list: viewerProcedure
    .meta({ description: "Outbox events, newest first, filtered, keyset-paginated" })
    .input(
      z.object({
        filter: outboxFilterSchema.default({}),
        cursor: eventId.optional(),
        limit: z.number().int().min(1).max(200).default(50),
      }),
    )
    .query(({ ctx, input }) => ctx.outboxAdmin.list(input.filter, { cursor: input.cursor, limit: input.limit })),

  get: viewerProcedure
    .meta({ description: "One outbox event with payload, headers, error and what blocks it" })
    .input(z.object({ id: eventId }))
    .query(async ({ ctx, input }) => {
      const event = await ctx.outboxAdmin.get(input.id);
      // Stack traces are for the people who act on them: viewers get the message only.
      return ctx.user.role === "operator" ? event : { ...event, lastErrorStack: null };
    }),

  blocked: viewerProcedure
    .meta({ description: "Aggregates whose events wait behind an earlier unconsumed event" })
    .input(z.object({ limit: z.number().int().min(1).max(500).default(100) }).default({ limit: 100 }))
    .query(({ ctx, input }) => ctx.outboxAdmin.blocked(input)),

  retry: operatorProcedure
    .meta({ description: "Publish a failed, dead or stalled event again now" })
    .input(z.object({ id: eventId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.outboxAdmin.retry(input.id, auditContextOf(ctx, input.reason))),

  retryMatching: operatorProcedure
    .meta({ description: "Retry every failed or dead event matching a filter, in batches" })
    .input(
      z.object({
        filter: outboxFilterSchema,
        batchSize: z.number().int().min(1).max(5000).default(500),
        maxEvents: z.number().int().min(1).max(1_000_000).default(100_000),
        reason: operatorReason,
      }),
    )
    .mutation(({ ctx, input }) => ctx.outboxAdmin.retryMatching(input.filter, input, auditContextOf(ctx, input.reason))),

  discard: operatorProcedure
    .meta({ description: "Give up on an event: never published, no longer blocks its aggregate" })
    .input(z.object({ id: eventId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.outboxAdmin.discard(input.id, auditContextOf(ctx, input.reason))),

  /** A new event like this one, with an edited payload checked against its type's contract; the original is untouched. */
  replayEdited: operatorProcedure
    .meta({ description: "Replay one event with an edited payload (a new event linked to the original)" })
    .input(
      z.object({
        id: eventId,
        payload: z.record(z.string(), z.unknown(), { message: "payload must be a JSON object (the event's payload, edited)" }),
        reason: operatorReason,
      }),
    )
    .mutation(({ ctx, input }) => ctx.outboxAdmin.replayEdited(input.id, input.payload, auditContextOf(ctx, input.reason))),
});
