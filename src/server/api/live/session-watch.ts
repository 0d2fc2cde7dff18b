import { TRPCError } from "@trpc/server";
import type { Role } from "../../auth/session";
import type { Db } from "../../platform/db/client";
import type { LiveHub } from "../../reliability/live/live-hub";

/** Without a Redis message (Redis down, session cache off), a stream's session is read again this often. */
export const LIVE_SESSION_RECHECK_MS = 15_000;

/**
 * The channel on which a user's role or session version change is announced (the session cache's
 * invalidation channel: composition.ts names it `<prefix>:sessions:changed`, auth/session-cache.ts
 * publishes the user id after the commit). Only listened to here; auth's own handling is untouched.
 */
export const sessionChangesChannel = (prefix: string) => `${prefix}:sessions:changed`;

export interface SessionWatch {
  /** Aborts when the session was revoked or its role no longer allows the stream; its reason is the TRPCError to end with. */
  signal: AbortSignal;
  stop(): void;
}

/**
 * Ends a long-lived stream promptly when its session stops being valid: a sign-out everywhere (the
 * session version moved), a deleted user, a role below `roles`. Each announcement for this user on
 * the session channel (through the process's live hub) triggers a re-read of the user's row; a
 * periodic re-read covers lost messages and a Redis that is down.
 *
 * The version compared against is read when the watch starts, a few milliseconds after the request's
 * session was resolved: a revocation inside that window is caught by the stream's maximum age.
 */
export async function watchSession(opts: {
  db: Db;
  hub: LiveHub;
  prefix: string;
  userId: string;
  roles: readonly Role[];
  rolesLabel: string;
  recheckMs?: number;
}): Promise<SessionWatch> {
  const controller = new AbortController();
  const readUser = () => opts.db.user.findUnique({ where: { id: opts.userId }, select: { role: true, sessionVersion: true } });
  const start = await readUser();
  let checking = false;
  let again = false;

  const check = async (): Promise<void> => {
    if (controller.signal.aborted) return;
    // A message during a read that may predate its commit: read once more after it.
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      const now = await readUser();
      if (!now || !start || now.sessionVersion !== start.sessionVersion) {
        controller.abort(new TRPCError({ code: "UNAUTHORIZED", message: "Your session was signed out: sign in again to keep watching" }));
      } else if (!opts.roles.includes(now.role)) {
        controller.abort(new TRPCError({ code: "FORBIDDEN", message: `Your role changed: live updates are for ${opts.rolesLabel}` }));
      }
    } catch {
      // PostgreSQL unreachable: the feeds end the stream with their own 503 if it lasts.
    } finally {
      checking = false;
    }
    if (again) {
      again = false;
      return check();
    }
  };

  const stopListening = opts.hub.listen(sessionChangesChannel(opts.prefix), (userId) => {
    if (userId === opts.userId) void check();
  });
  const timer = setInterval(() => void check(), opts.recheckMs ?? LIVE_SESSION_RECHECK_MS);
  timer.unref();
  return {
    signal: controller.signal,
    stop() {
      clearInterval(timer);
      stopListening();
    },
  };
}
