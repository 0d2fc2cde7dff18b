import { createHash } from "node:crypto";

/** One reading of a feed: its value, when it was read, and a short hash of what counts as a change. */
export interface FeedReading<T> {
  value: T;
  version: string;
  at: Date;
}

export interface PollingFeed<T> {
  /**
   * The next reading whose version differs from `seenVersion` (the current one at once if it
   * already differs; with no seen version, the first reading). Rejects when a poll fails or the
   * signal aborts. Every waiter of one process shares the same poll: N watching operators cost
   * one query per interval, not N.
   */
  nextChange(seenVersion: string | undefined, signal: AbortSignal): Promise<FeedReading<T>>;
  /** The latest reading, if the feed is being watched and its last poll succeeded. */
  latest(): FeedReading<T> | undefined;
  /** How many callers are waiting now (the poll runs only while someone is). */
  readonly waiting: number;
  /**
   * A reading obtained elsewhere (another instance's poll, relayed through Redis): becomes the
   * current one and wakes the waiters it is news to, exactly as one of this feed's own polls would.
   */
  offer(value: T): void;
}

/** A version for a value: the same value (as JSON) gives the same version in every process. */
export function versionOf(value: unknown): string {
  return createHash("sha1").update(JSON.stringify(value)).digest("base64url").slice(0, 12);
}

/**
 * Polls `load` every `intervalMs` while anyone waits, and wakes the waiters whose seen version is
 * no longer current. `changeKey` picks what counts as a change (ages that grow every second do
 * not), so a quiet system yields nothing after its first reading.
 */
export function createPollingFeed<T>(opts: {
  load: () => Promise<T>;
  changeKey: (value: T) => unknown;
  intervalMs: number;
  /** The last waiter left (it may come back at once: a stream between two rounds). */
  onIdle?: () => void;
}): PollingFeed<T> {
  let current: FeedReading<T> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  const waiters = new Set<{ seen: string | undefined; resolve: (r: FeedReading<T>) => void; reject: (e: unknown) => void }>();

  function accept(value: T) {
    current = { value, version: versionOf(opts.changeKey(value)), at: new Date() };
    for (const w of [...waiters]) {
      if (w.seen !== current.version) {
        waiters.delete(w);
        w.resolve(current);
      }
    }
  }

  async function poll() {
    timer = undefined;
    polling = true;
    try {
      accept(await opts.load());
    } catch (error) {
      // A failed poll fails every waiter: each stream ends with the error and its client falls back to polling.
      current = undefined;
      for (const w of [...waiters]) {
        waiters.delete(w);
        w.reject(error);
      }
    } finally {
      polling = false;
      schedule();
    }
  }

  function schedule() {
    if (waiters.size > 0 && !timer && !polling) timer = setTimeout(() => void poll(), current ? opts.intervalMs : 0);
  }

  return {
    get waiting() {
      return waiters.size;
    },
    latest: () => current,
    offer: (value) => {
      if (waiters.size > 0) accept(value);
    },
    nextChange(seenVersion, signal) {
      return new Promise<FeedReading<T>>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        if (current && current.version !== seenVersion) return resolve(current);
        const waiter = {
          seen: seenVersion,
          resolve: (r: FeedReading<T>) => {
            signal.removeEventListener("abort", onAbort);
            resolve(r);
          },
          reject: (e: unknown) => {
            signal.removeEventListener("abort", onAbort);
            reject(e);
          },
        };
        const onAbort = () => {
          waiters.delete(waiter);
          if (waiters.size === 0 && timer) {
            clearTimeout(timer);
            timer = undefined;
            // Nobody watches: the next watcher must not be answered from a reading that may be old.
            current = undefined;
          }
          if (waiters.size === 0) opts.onIdle?.();
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiters.add(waiter);
        schedule();
      });
    },
  };
}
