import { tracked, TRPCError } from "@trpc/server";
import { z } from "zod";
import { isDatabaseUnreachable } from "../../../platform/db/unreachable";
import { adminFeeds, LIVE_TOPICS, type LiveSnapshots, type LiveTopic } from "../../live/admin-feeds";
import { createTRPCRouter, DATABASE_UNAVAILABLE_MESSAGE, viewerProcedure } from "../../trpc";

/**
 * A stream ends after this long and the client opens a new one: the new request passes sign-in and
 * the role check again, so a revoked session or a lowered role stops receiving within this time.
 */
export const LIVE_STREAM_MAX_MS = 5 * 60_000;

/** `outbox:<version>,sagas:<version>`: what the client has seen, sent back as Last-Event-ID on reconnect. */
const EVENT_ID = /^(?:[a-z]+:[\w-]{1,32})(?:,[a-z]+:[\w-]{1,32}){0,5}$/;

function parseEventId(id: string | null | undefined): Partial<Record<LiveTopic, string>> {
  if (!id) return {};
  return Object.fromEntries(id.split(",").map((part) => part.split(":") as [string, string]));
}

/**
 * admin.live: the console's live updates over Server-Sent Events (httpSubscriptionLink). Each
 * watched topic is polled from PostgreSQL by one shared feed per process; a stream yields a snapshot
 * of the topics that changed since what the client saw (the event id, so a reconnect resumes
 * without a duplicate). Same access as the dashboard's reads: viewers and operators.
 */
export const liveAdminRouter = createTRPCRouter({
  watch: viewerProcedure
    .meta({ description: "Live snapshots of the outbox, sagas and idempotency records, when they change" })
    .input(
      z.object({
        topics: z
          .array(z.enum(LIVE_TOPICS))
          .min(1, "watch at least one topic (outbox, sagas, idempotency)")
          .max(LIVE_TOPICS.length)
          .refine((t) => new Set(t).size === t.length, "each topic at most once"),
        lastEventId: z.string().regex(EVENT_ID, "lastEventId is the id of an event this stream sent").nullish(),
      }),
    )
    .subscription(async function* ({ ctx, input, signal }) {
      const feeds = adminFeeds(ctx);
      const seen = parseEventId(input.lastEventId);
      const ends = AbortSignal.timeout(LIVE_STREAM_MAX_MS);
      const stop = signal ? AbortSignal.any([signal, ends]) : ends;
      while (!stop.aborted) {
        // Wait for any watched topic to differ from what the client has; cancel the other waits after.
        const round = new AbortController();
        const waiting = AbortSignal.any([stop, round.signal]);
        // A first snapshot (or a resumed one) holds every topic the client has not seen yet.
        const unseen = input.topics.filter((topic) => !seen[topic]);
        try {
          if (unseen.length) await Promise.all(unseen.map((topic) => feeds[topic].nextChange(undefined, waiting)));
          else await Promise.race(input.topics.map((topic) => feeds[topic].nextChange(seen[topic], waiting)));
        } catch (error) {
          if (stop.aborted) return; // the client left, or the stream reached its age: not an error
          throw isDatabaseUnreachable(error)
            ? new TRPCError({ code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE, cause: error })
            : error;
        } finally {
          round.abort();
        }
        const snapshots: Partial<LiveSnapshots> = {};
        let at = new Date(0);
        for (const topic of input.topics) {
          const reading = feeds[topic].latest();
          if (!reading || reading.version === seen[topic]) continue;
          seen[topic] = reading.version;
          (snapshots as Record<LiveTopic, unknown>)[topic] = reading.value;
          if (reading.at > at) at = reading.at;
        }
        const id = input.topics.filter((t) => seen[t]).map((t) => `${t}:${seen[t]}`).join(",");
        yield tracked(id, { at, snapshots });
      }
    }),
});
