import { z } from "zod";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

/**
 * Operator view of Idempotency-Key handling. Counters (requests, replays, 409s, 422s…) live in
 * Redis under the app prefix (see reliability/idempotency/metrics.ts for why); records and their states
 * are read from PostgreSQL, the source of truth.
 */
export const idempotencyAdminRouter = createTRPCRouter({
  /** Counters (all time, or the last N hours) with the hit rate, and records by state. */
  stats: viewerProcedure
    .input(z.object({ hours: z.number().int().min(1, "hours must be at least 1").max(24 * 7, "hours can be at most 168 (7 days)").optional() }).default({}))
    .query(({ ctx, input }) => ctx.idempotencyAdmin.stats(input)),

  /** Records, newest first; search by exact key, user, procedure or state. Shows the stored result. */
  records: viewerProcedure
    .input(
      z.object({
        key: z.string().min(1, "the key to search for cannot be empty").max(255, "keys are at most 255 characters").optional(),
        userId: z.uuid({ message: "userId must be a user id (a UUID)" }).optional(),
        procedure: z.string().regex(/^[\w.]+$/, "procedure is a path such as files.rename").max(200).optional(),
        state: z.enum(["in_progress", "completed"]).optional(),
        cursor: z.uuid({ message: "cursor must be the id of the last record of the previous page" }).optional(),
        limit: z.number().int().min(1).max(100).default(25),
      }),
    )
    .query(({ ctx, input }) => ctx.idempotencyAdmin.records(input)),

  /**
   * Delete expired records now (the worker also does it on a schedule). Opts out of Idempotency-Key:
   * it is idempotent by nature, and its batches commit one by one, outside any one transaction.
   * For the same reason its audit row is written once the batches are done, with the total: what
   * it deletes is only what the worker's scheduled clean-up would delete anyway.
   */
  deleteExpired: operatorProcedure
    .meta({ idempotency: false })
    .input(z.object({ batchSize: z.number().int().min(1).max(10_000).default(1000), reason: operatorReason }).default({ batchSize: 1000 }))
    .mutation(({ ctx, input }) => ctx.idempotencyAdmin.deleteExpired(input, auditContextOf(ctx, input.reason))),
});
