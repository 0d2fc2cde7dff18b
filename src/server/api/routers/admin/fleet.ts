import { z } from "zod";
import { recordOperatorAction, type TransactionOnly } from "../../../reliability/audit";
import { withDeadline } from "../../../reliability/cache/deadline";
import { inTransaction } from "../../../platform/db/transaction";
import { queuePrefix } from "../../../platform/redis";
import {
  applyPause,
  desiredPauses,
  fleetQueuesFor,
  listWorkers,
  MISSED_BEATS_BEFORE_GONE,
  PAUSABLE_QUEUES,
  readQueueStates,
  setDesiredPause,
  type PausableQueue,
} from "../../../reliability/fleet";
import { auditContextOf, operatorReason } from "../../audit-context";
import type { InnerContext } from "../../trpc";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

/** How long an operator action waits for Redis to take a pause; past it the workers apply it. */
const APPLY_DEADLINE_MS = 1000;

const queueInput = z.object({
  queue: z.enum(PAUSABLE_QUEUES as [PausableQueue, ...PausableQueue[]], {
    error: `queue must be one of: ${PAUSABLE_QUEUES.join(", ")} (the heartbeat queue cannot be paused)`,
  }),
  reason: operatorReason,
});

// BullMQ's prefix: hash-tagged on a cluster, as the worker names its queues.
const queuesOf = (ctx: InnerContext) => fleetQueuesFor(ctx.redis, queuePrefix(ctx.config.queuePrefix, ctx.redis));

/**
 * Set the desired state in PostgreSQL (what survives a Redis wipe) with its audit row, in one
 * transaction, then apply it to Redis now if Redis answers in time. If it does not, the answer says
 * so: every worker re-applies the desired state on its next fleet beat once Redis is back.
 */
async function setPaused(ctx: InnerContext & { user: NonNullable<InnerContext["user"]> }, input: z.infer<typeof queueInput>, paused: boolean) {
  const { queue } = input;
  await inTransaction(ctx.db, async (tx) => {
    await setDesiredPause(tx, queue, paused, ctx.user.id);
    await recordOperatorAction(tx as TransactionOnly, {
      ...auditContextOf(ctx, input.reason),
      action: paused ? "queue.pause" : "queue.resume",
      targetKind: "queue",
      targetIds: [queue],
      affectedCount: 1,
    });
  });
  const appliedNow = await withDeadline(applyPause(queuesOf(ctx), queue, paused), APPLY_DEADLINE_MS).then(
    () => true,
    (err: unknown) => {
      ctx.logger.warn({ err, queue, paused }, "queue pause recorded, but Redis did not take it now; the workers will apply it");
      return false;
    },
  );
  return { queue, paused, appliedNow };
}

/**
 * The worker fleet: processes registered by their fleet beat (PostgreSQL), BullMQ's own counts per
 * queue (Redis), and pausing / resuming a queue (operators). Logic in src/server/domain/fleet.
 */
export const fleetRouter = createTRPCRouter({
  list: viewerProcedure.query(async ({ ctx }) => {
    const [workers, desired, states] = await Promise.all([listWorkers(ctx.db), desiredPauses(ctx.db), readQueueStates(queuesOf(ctx))]);
    return {
      workers,
      redis: states.redis,
      queues: states.queues.map((q) => {
        const want = desired.get(q.name);
        return { ...q, desiredPaused: want?.paused ?? false, changedAt: want?.changedAt ?? null, changedBy: want?.changedBy ?? null };
      }),
      missedBeatsBeforeGone: MISSED_BEATS_BEFORE_GONE,
    };
  }),

  /** Stop workers from starting new jobs of a queue (running jobs finish); kept across Redis wipes. */
  pauseQueue: operatorProcedure
    .meta({ description: "Pause a BullMQ queue (desired state kept in PostgreSQL)" })
    .input(queueInput)
    .mutation(({ ctx, input }) => setPaused(ctx, input, true)),

  resumeQueue: operatorProcedure
    .meta({ description: "Resume a paused BullMQ queue" })
    .input(queueInput)
    .mutation(({ ctx, input }) => setPaused(ctx, input, false)),
});
