import { z } from "zod";
import { sagaStatusSchema } from "../../../contracts/statuses";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const sagaId = z.uuid({ message: "must be a saga id (a UUID)" });
const sagaStatus = sagaStatusSchema;

/** Saga dashboard: viewers read, operators act. The logic lives in src/server/reliability/saga. */
export const sagasRouter = createTRPCRouter({
  list: viewerProcedure
    .input(
      z.object({
        status: z.array(sagaStatus).max(6).optional(),
        type: z.string().trim().min(1).max(100).optional(),
        correlationId: z.string().trim().min(1).max(200).optional(),
        error: z.string().trim().min(1).max(200).optional(),
        createdAfter: z.date().optional(),
        createdBefore: z.date().optional(),
        cursor: sagaId.optional(),
        limit: z.number().int().min(1).max(200).default(50),
      }),
    )
    .query(({ ctx, input }) => ctx.sagas.list(input)),

  timeline: viewerProcedure.input(z.object({ id: sagaId })).query(({ ctx, input }) => ctx.sagas.timeline(input.id)),

  metrics: viewerProcedure
    .input(z.object({ type: z.string().trim().min(1).max(100).optional(), sinceMinutes: z.number().int().min(1).max(60 * 24 * 90).optional() }).default({}))
    .query(({ ctx, input }) =>
      ctx.sagas.metrics({
        type: input.type,
        since: input.sinceMinutes ? new Date(Date.now() - input.sinceMinutes * 60_000) : undefined,
      }),
    ),

  /** Compensate now: undo the completed steps in reverse; the saga ends `aborted`. */
  abort: operatorProcedure
    .meta({ description: "Abort a running saga (compensate now)" })
    .input(z.object({ id: sagaId, reason: z.string().trim().min(3, "say why (at least 3 characters): it is kept on the saga").max(500) }))
    .mutation(({ ctx, input }) => ctx.sagas.abort(input.id, `${input.reason} (by ${ctx.user.email})`, auditContextOf(ctx, input.reason))),

  /** Retry the compensation that failed (saga status `failed`). */
  retryStep: operatorProcedure
    .meta({ description: "Retry a saga's failed compensation step" })
    .input(z.object({ id: sagaId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.sagas.retryStep(input.id, auditContextOf(ctx, input.reason))),

  /**
   * Re-queue the current step of a running/compensating saga that has no live job. Opts out of
   * Idempotency-Key: it writes nothing and queues only when no job is alive (idempotent by
   * nature), and its answer comes from Redis, which must not be waited on inside a transaction.
   */
  resume: operatorProcedure
    .meta({ description: "Resume a stuck saga", idempotency: false })
    .input(z.object({ id: sagaId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.sagas.resume(input.id, auditContextOf(ctx, input.reason))),

  /** Run forward again from the first step not in effect, skipping the succeeded ones. */
  redrive: operatorProcedure
    .meta({ description: "Redrive a saga from its failed step" })
    .input(z.object({ id: sagaId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.sagas.redrive(input.id, auditContextOf(ctx, input.reason))),

  /** A new saga starting at a chosen step, with the steps before it taken from this one's recorded outputs. */
  fork: operatorProcedure
    .meta({ description: "Fork a stopped saga from a chosen step (optionally with edited input)" })
    .input(
      z.object({
        id: sagaId,
        fromStep: z.number().int("fromStep is a step index (0, 1, …)").min(0, "fromStep is a step index (0, 1, …)").max(1000),
        /** Absent: the original's input. */
        input: z.unknown().optional(),
        reason: operatorReason,
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.sagas.fork(input.id, { fromStep: input.fromStep, input: input.input }, auditContextOf(ctx, input.reason)),
    ),
});
