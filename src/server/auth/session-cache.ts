import type { RedisClient } from "../platform/redis";
import type { Logger } from "../platform/logger";
import type { SessionUser } from "./session";

export interface SessionCacheOptions {
  /** A connection of its own: it is put in subscriber mode (and closed by close()). */
  subscriber: RedisClient;
  /** The ordinary client, for PUBLISH. */
  publisher: RedisClient;
  /** The pub/sub channel every instance of this deployment shares. */
  channel: string;
  /** How long a resolved session is reused (ms): also the bound on staleness if a PUBLISH is lost. */
  ttlMs?: number;
  /** How often the subscriber connection is PINGed; no answer within one interval ⇒ not trusted. */
  heartbeatMs?: number;
  logger: Logger;
  now?: () => number;
}

interface Entry {
  user: SessionUser;
  expiresAt: number;
}

/**
 * A short in-process cache of resolved sessions, keyed by user id and session version, so a signed-in
 * request costs no PostgreSQL round trip while the README's promise holds: a role change or a "sign
 * out everywhere" applies at once on every instance.
 *
 * Whoever changes a user's role or session version calls `publish(userId)` after the commit; every
 * instance (this one included) drops that user's entries when the message arrives. The cache is
 * trusted only while that message path is known to work: the subscription is confirmed AND no PING
 * on the subscriber connection has gone unanswered past the next heartbeat. Otherwise (Redis down, paused,
 * reconnecting) every entry is dropped and the caller reads PostgreSQL on each request, as before:
 * a message that could have been missed can never leave a stale role in use.
 *
 * Races: a lookup captures `epoch` before it reads PostgreSQL and stores its answer only if no
 * invalidation (and no loss of the subscription) happened meanwhile, so a read that raced a change
 * is never cached. The remaining window is the message's delivery time (sub-millisecond on a LAN);
 * a change made without publish (a hand-written SQL UPDATE) applies within `ttlMs`.
 */
export function createSessionCache(options: SessionCacheOptions) {
  const { subscriber, publisher, channel, logger } = options;
  const ttlMs = options.ttlMs ?? 5000;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const now = options.now ?? Date.now;
  const byUser = new Map<string, Map<number, Entry>>();
  let subscribed = false;
  let pingInFlight = false;
  let pingSentAt = 0;
  let epoch = 0;
  let closed = false;
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));

  const dropAll = () => {
    byUser.clear();
    epoch += 1;
  };
  const lose = (why: string) => {
    if (subscribed) logger.warn({ why }, "session cache: invalidation channel lost; resolving sessions from PostgreSQL");
    subscribed = false;
    dropAll();
  };
  // Trusted while subscribed and no PING has waited for its PONG longer than two heartbeats. Judged
  // from the PING in flight, not from the age of the last PONG: on a loaded machine this process's
  // own timer runs late, and "the last PONG is old" would then end the trust (and send every request
  // to PostgreSQL) although Redis answered every PING it was sent. A hung Redis still ends it within
  // two heartbeats of the unanswered PING (and the heartbeat's own check drops the entries).
  const live = () => subscribed && !(pingInFlight && now() - pingSentAt > heartbeatMs * 2);

  let subscribing = false;
  async function subscribe() {
    if (subscribing || closed) return;
    subscribing = true;
    try {
      await subscriber.subscribe(channel);
      subscribed = true;
      dropAll(); // nothing cached before this point was protected by the subscription
      readyResolve();
    } catch (err) {
      logger.warn({ err }, "session cache: subscribe failed");
    } finally {
      subscribing = false;
    }
  }

  subscriber.on("message", (ch: string, userId: string) => {
    if (ch !== channel) return;
    byUser.delete(userId);
    epoch += 1;
  });
  subscriber.on("ready", () => void subscribe());
  for (const event of ["close", "end", "reconnecting"] as const) subscriber.on(event, () => lose(event));
  subscriber.on("error", () => {}); // the state events above tell what matters; ioredis reconnects

  // A paused or half-dead Redis keeps the socket "ready" but delivers nothing: a PING unanswered
  // for a whole interval ends the trust. Once answered again, subscribing anew restores it.
  let pingsSent = 0;
  const heartbeat = setInterval(() => {
    if (closed) return;
    if (!subscribed) {
      if (subscriber.status === "ready" && !subscribing) void subscribe();
      return;
    }
    if (pingInFlight) {
      // Judge after this turn's I/O, not now: when OUR event loop ran late (a loaded machine), the
      // timer fires first and the PONG may already be waiting in the socket, unread. Only a PING
      // still unanswered once that I/O is processed means Redis did not answer.
      const outstanding = pingsSent;
      setImmediate(() => {
        if (!closed && pingInFlight && pingsSent === outstanding) lose("heartbeat timeout");
      });
      return;
    }
    pingInFlight = true;
    pingSentAt = now();
    pingsSent += 1;
    subscriber.ping().then(
      () => {
        pingInFlight = false;
      },
      () => {
        pingInFlight = false;
        lose("heartbeat failed");
      },
    );
  }, heartbeatMs);
  heartbeat.unref();
  if (subscriber.status === "ready") void subscribe();

  return {
    /** Resolves once the first subscription is confirmed (tests; the app need not wait). */
    whenReady: () => ready,
    /** Whether cached sessions may be used now. */
    isLive: live,
    /** The invalidation epoch: pass it back to set() so a lookup that raced a change is not stored. */
    token: () => epoch,

    get(userId: string, version: number): SessionUser | null {
      if (!live()) return null;
      const entry = byUser.get(userId)?.get(version);
      if (!entry) return null;
      if (entry.expiresAt <= now()) {
        byUser.get(userId)!.delete(version);
        return null;
      }
      return entry.user;
    },

    set(userId: string, version: number, user: SessionUser, token: number) {
      if (token !== epoch || !live()) return;
      let versions = byUser.get(userId);
      if (!versions) byUser.set(userId, (versions = new Map()));
      versions.set(version, { user, expiresAt: now() + ttlMs });
    },

    /**
     * Tell every instance that this user's role or session version changed (call after the commit).
     * Dropped here at once; elsewhere when the message arrives. A failed PUBLISH is logged, not
     * thrown: the change is committed, and other instances then apply it within ttlMs at worst.
     */
    async publish(userId: string): Promise<void> {
      byUser.delete(userId);
      epoch += 1;
      try {
        await publisher.publish(channel, userId);
      } catch (err) {
        logger.warn({ err, userId }, "session cache: invalidation not published; other instances apply it within the cache TTL");
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      subscribed = false;
      byUser.clear();
      subscriber.disconnect();
    },
  };
}

export type SessionCache = ReturnType<typeof createSessionCache>;
