import { statsKey, type Keyspace } from "./keys";
import type { RedisGuard } from "./redis-guard";
import { COUNTER_FIELDS, CounterBuffer, statsField, type CounterField, type PrefixCounters } from "./stats";

export interface StatsFlusherOptions {
  guard: RedisGuard;
  ks: Keyspace;
  /** How often counters are flushed to Redis (ms); 0 disables the timer (flush on demand only). */
  flushMs: number;
}

/**
 * The cache's hit/miss counters: counted in memory (no Redis command on the hot path) and flushed
 * as deltas to one Redis hash every few seconds, so the dashboard sees the sum over every process.
 * A failed flush puts its deltas back for the next one.
 */
export function createStatsFlusher(options: StatsFlusherOptions) {
  const { guard, ks } = options;
  const counters = new CounterBuffer();
  let timer: NodeJS.Timeout | null = null;

  async function flush(): Promise<void> {
    const deltas = counters.drain();
    if (deltas.size === 0) return;
    if (guard.redis.status !== "ready") {
      counters.restore(deltas);
      return;
    }
    try {
      const pipeline = guard.redis.pipeline();
      for (const [prefix, c] of deltas) {
        for (const f of COUNTER_FIELDS) {
          if (!c[f]) continue;
          if (Number.isInteger(c[f])) pipeline.hincrby(statsKey(ks), statsField(prefix, f), c[f]);
          else pipeline.hincrbyfloat(statsKey(ks), statsField(prefix, f), c[f]);
        }
      }
      const results = (await guard.timely(pipeline.exec())) ?? [];
      if (results.some(([error]) => error)) throw results.find(([error]) => error)![0];
    } catch (error) {
      counters.restore(deltas);
      guard.fail(error, "stats");
    }
  }

  if (options.flushMs > 0) {
    timer = setInterval(() => void flush(), options.flushMs);
    timer.unref();
  }

  return {
    count(prefix: string, field: CounterField, n = 1): void {
      counters.add(prefix, field, n);
    },
    flush,
    /** This process's counts not flushed yet. */
    unflushed(): ReadonlyMap<string, PrefixCounters> {
      return counters.peek();
    },
    stop(): void {
      if (timer) clearInterval(timer);
    },
  };
}

export type StatsFlusher = ReturnType<typeof createStatsFlusher>;
