import { z } from "zod";
import { LIVE_TOPICS } from "../../../reliability/live/live-feeds";
import { LIVE_EVENT_ID, watchLive } from "../../live/watch-stream";
import { createTRPCRouter, viewerProcedure } from "../../trpc";

/**
 * admin.live: the console's live updates over Server-Sent Events (httpSubscriptionLink). The
 * stream (api/live/watch-stream.ts) waits on the process's feeds, `ctx.live.<topic>`
 * (reliability/live: each topic read from PostgreSQL once per interval for the whole deployment and
 * fanned out through Redis); it ends within seconds of its session being revoked.
 * Same access as the dashboard's reads: viewers and operators.
 */
export const liveAdminRouter = createTRPCRouter({
  watch: viewerProcedure
    .meta({ description: "Live snapshots of the outbox, sagas, idempotency records and failure groups, when they change" })
    .input(
      z.object({
        topics: z
          .array(z.enum(LIVE_TOPICS))
          .min(1, `watch at least one topic (${LIVE_TOPICS.join(", ")})`)
          .max(LIVE_TOPICS.length)
          .refine((t) => new Set(t).size === t.length, "each topic at most once"),
        lastEventId: z.string().regex(LIVE_EVENT_ID, "lastEventId is the id of an event this stream sent").nullish(),
      }),
    )
    .subscription(({ ctx, input, signal }) => watchLive(ctx, input, signal, { roles: ["viewer", "operator"], label: "viewers and operators" })),
});
