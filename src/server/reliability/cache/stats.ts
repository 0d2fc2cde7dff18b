/** Counters kept per cache prefix. */
export const COUNTER_FIELDS = ["hits", "stale", "coalesced", "waited", "misses", "bypassed", "loadMs", "savedMs"] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];
export type PrefixCounters = Record<CounterField, number>;

export interface PrefixStats extends PrefixCounters {
  /** Calls answered without running their own loader / all calls. null before the first call. */
  hitRate: number | null;
  /** Entries currently stored under the prefix (SCAN count; includes entries already invalidated by a tag). */
  keys: number;
}

export function emptyCounters(): PrefixCounters {
  return { hits: 0, stale: 0, coalesced: 0, waited: 0, misses: 0, bypassed: 0, loadMs: 0, savedMs: 0 };
}

export function hitRate(c: PrefixCounters): number | null {
  const served = c.hits + c.stale + c.coalesced + c.waited;
  const total = served + c.misses + c.bypassed;
  return total === 0 ? null : served / total;
}

/**
 * Counting is in memory (no Redis command on the hot path); the deltas are flushed to one Redis
 * hash every few seconds so the dashboard sees the sum over the web and worker processes.
 */
export class CounterBuffer {
  private deltas = new Map<string, PrefixCounters>();

  add(prefix: string, field: CounterField, n = 1): void {
    let c = this.deltas.get(prefix);
    if (!c) this.deltas.set(prefix, (c = emptyCounters()));
    c[field] += n;
  }

  /** Take the unflushed deltas (put them back with restore() if the flush fails). */
  drain(): Map<string, PrefixCounters> {
    const out = this.deltas;
    this.deltas = new Map();
    return out;
  }

  restore(deltas: Map<string, PrefixCounters>): void {
    for (const [prefix, c] of deltas) for (const f of COUNTER_FIELDS) if (c[f]) this.add(prefix, f, c[f]);
  }

  peek(): ReadonlyMap<string, PrefixCounters> {
    return this.deltas;
  }
}

/** Hash field names: "<prefix>|<counter>". */
export function statsField(prefix: string, field: CounterField): string {
  return `${prefix}|${field}`;
}

export function parseStatsHash(hash: Record<string, string>): Map<string, PrefixCounters> {
  const out = new Map<string, PrefixCounters>();
  for (const [name, raw] of Object.entries(hash)) {
    const bar = name.lastIndexOf("|");
    if (bar < 0) continue;
    const prefix = name.slice(0, bar);
    const field = name.slice(bar + 1) as CounterField;
    if (!COUNTER_FIELDS.includes(field)) continue;
    let c = out.get(prefix);
    if (!c) out.set(prefix, (c = emptyCounters()));
    c[field] += Number(raw) || 0;
  }
  return out;
}
