import { tracked, TRPCError } from "@trpc/server";
import type { Role } from "../../auth/session";
import { isDatabaseUnreachable } from "../../platform/db/unreachable";
import { DATABASE_UNAVAILABLE_MESSAGE, type InnerContext } from "../trpc";
import type { LiveSnapshots, LiveTopic } from "../../reliability/live/live-feeds";
import { watchSession } from "./session-watch";

/**
 * A stream ends after this long and the client opens a new one (sign-in and role checked again): the
 * last resort. A revoked session or a lowered role ends the stream within seconds (session-watch.ts).
 */
export const LIVE_STREAM_MAX_MS = 5 * 60_000;

/** `outbox:<version>,sagas:<version>`: what the client has seen, sent back as Last-Event-ID on reconnect. */
export const LIVE_EVENT_ID = /^(?:[a-z]+:[\w-]{1,32})(?:,[a-z]+:[\w-]{1,32}){0,5}$/;

function parseEventId(id: string | null | undefined): Partial<Record<LiveTopic, string>> {
  if (!id) return {};
  return Object.fromEntries(id.split(",").map((part) => part.split(":") as [string, string]));
}

const unavailableOr = (error: unknown) =>
  isDatabaseUnreachable(error) ? new TRPCError({ code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE, cause: error }) : error;

/**
 * admin.live.watch's stream: a snapshot of the topics that changed since what the client saw (the
 * event id, so a reconnect — on any instance — resumes without a duplicate), until the client
 * leaves, the stream reaches its age, the session ends, or PostgreSQL cannot be read.
 */
export async function* watchLive(
  ctx: InnerContext & { user: { id: string } },
  input: { topics: LiveTopic[]; lastEventId?: string | null },
  signal: AbortSignal | undefined,
  access: { roles: readonly Role[]; label: string },
) {
  // The process's feeds (ctx.live, built once by the composition root): one per topic.
  const feeds = ctx.live;
  const seen = parseEventId(input.lastEventId);
  const session = await watchSession({ db: ctx.db, hub: ctx.live.hub, prefix: ctx.config.queuePrefix, userId: ctx.user.id, roles: access.roles, rolesLabel: access.label }).catch(
    (error: unknown) => {
      throw unavailableOr(error);
    },
  );
  const stop = AbortSignal.any([AbortSignal.timeout(LIVE_STREAM_MAX_MS), session.signal, ...(signal ? [signal] : [])]);
  try {
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
        if (session.signal.aborted) throw session.signal.reason; // revoked or demoted: end with the reason
        if (stop.aborted) return; // the client left, or the stream reached its age: not an error
        throw unavailableOr(error);
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
    if (session.signal.aborted) throw session.signal.reason;
  } finally {
    session.stop();
  }
}
