import { z } from "zod";
import { PAUSABLE_QUEUES, type PausableQueue } from "../../../reliability/fleet";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const queueInput = z.object({
  queue: z.enum(PAUSABLE_QUEUES as [PausableQueue, ...PausableQueue[]], {
    error: `queue must be one of: ${PAUSABLE_QUEUES.join(", ")} (the heartbeat queue cannot be paused)`,
  }),
  reason: operatorReason,
});

/**
 * The worker fleet: processes registered by their fleet beat (PostgreSQL), BullMQ's own counts per
 * queue (Redis), and pausing / resuming a queue (operators). Logic in src/server/reliability/fleet, bound in domain-services.ts.
 */
export const fleetRouter = createTRPCRouter({
  list: viewerProcedure.query(({ ctx }) => ctx.fleet.list()),

  /** Stop workers from starting new jobs of a queue (running jobs finish); kept across Redis wipes. */
  pauseQueue: operatorProcedure
    .meta({ description: "Pause a BullMQ queue (desired state kept in PostgreSQL)" })
    .input(queueInput)
    .mutation(({ ctx, input }) => ctx.fleet.setPaused(input.queue, true, auditContextOf(ctx, input.reason))),

  resumeQueue: operatorProcedure
    .meta({ description: "Resume a paused BullMQ queue" })
    .input(queueInput)
    .mutation(({ ctx, input }) => ctx.fleet.setPaused(input.queue, false, auditContextOf(ctx, input.reason))),
});
