import { isCluster, type RedisClient } from "../../platform/redis";
import type { Logger } from "../../platform/logger";

type Handler = (message: string) => void;

/**
 * One Redis subscriber connection per web process for everything live streams listen to (the live
 * feeds' channels, the session-invalidation channel), shared by all of the process's streams: M
 * watching operators cost one SUBSCRIBE per channel, not M. The connection exists only while some
 * stream listens (opened on the first listener, closed with the last), so an idle instance — or a
 * test that closed its services — holds no extra connection.
 *
 * Delivery is best effort (Redis pub/sub): whoever listens must work without it, which the live
 * feeds (their own poll when no relayed reading arrives) and the session watch (a periodic recheck)
 * do.
 */
export function createLiveHub(opts: { redis: RedisClient; logger: Logger }) {
  const handlers = new Map<string, Set<Handler>>();
  let subscriber: RedisClient | null = null;

  function connection(): RedisClient {
    if (subscriber) return subscriber;
    // A connection of its own (a subscriber can send nothing else), with the app client's target and options.
    const sub: RedisClient = isCluster(opts.redis) ? opts.redis.duplicate() : opts.redis.duplicate();
    sub.on("error", () => {}); // ioredis reconnects (and resubscribes) by itself; listeners fall back meanwhile
    sub.on("message", (channel: string, message: string) => {
      for (const handler of handlers.get(channel) ?? []) {
        try {
          handler(message);
        } catch (err) {
          opts.logger.warn({ err, channel }, "live: a listener failed on a message");
        }
      }
    });
    // ioredis resubscribes what was subscribed before a reconnect; a SUBSCRIBE that failed while
    // Redis was down is sent again here (subscribing twice to a channel is harmless).
    sub.on("ready", () => {
      if (subscriber === sub && handlers.size > 0) sub.subscribe(...handlers.keys()).catch(() => {});
    });
    subscriber = sub;
    return sub;
  }

  return {
    /** Calls `handler` with each message on `channel` until the returned function is called. */
    listen(channel: string, handler: Handler): () => void {
      let set = handlers.get(channel);
      if (!set) {
        handlers.set(channel, (set = new Set()));
        connection()
          .subscribe(channel)
          .catch((err: unknown) => opts.logger.debug({ err, channel }, "live: subscribe failed (Redis down?): polling only"));
      }
      set.add(handler);
      return () => {
        if (!set.delete(handler) || set.size > 0) return;
        handlers.delete(channel);
        const sub = subscriber;
        if (!sub) return;
        if (handlers.size === 0) {
          subscriber = null;
          sub.disconnect();
        } else {
          sub.unsubscribe(channel).catch(() => {});
        }
      };
    },
    /** Channels listened to now (tests, diagnostics). */
    get channels(): number {
      return handlers.size;
    },
  };
}

export type LiveHub = ReturnType<typeof createLiveHub>;
