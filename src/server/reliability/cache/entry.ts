import type { SuperJSONResult } from "superjson";
import { transformer } from "../../platform/transformer";

/**
 * What one cache entry holds. `versions` are the tag versions read BEFORE the loader ran: if any
 * tag was invalidated since, the stored versions no longer match and the entry is a miss. This is
 * what makes "a load that started before a write, stored after its invalidation" harmless (the
 * classic stale-set race of delete-based invalidation).
 */
export interface CacheEntry<T = unknown> {
  value: T;
  versions: string[];
  /** Epoch ms until which the value is fresh; after it (within the SWR window) it is stale. */
  freshUntil: number;
  /** How long the loader took (ms): a hit saves about this much. */
  loadMs: number;
}

/** An entry whose value is still in the transformer's wire form (what Redis holds, JSON-parsed). */
export type StoredEntry = CacheEntry<SuperJSONResult>;

interface Wire {
  v: SuperJSONResult;
  t: string[];
  f: number;
  l: number;
}

/** Values go through the project's transformer (superjson), so Dates and BigInts come back as such. */
export function encodeEntry(entry: CacheEntry): string {
  const wire: Wire = { v: transformer.serialize(entry.value), t: entry.versions, f: entry.freshUntil, l: entry.loadMs };
  return JSON.stringify(wire);
}

/** The entry with its value left serialized; null for anything that is not an entry this code wrote. */
export function parseEntry(raw: string): StoredEntry | null {
  try {
    const wire = JSON.parse(raw) as Partial<Wire>;
    if (!wire || typeof wire !== "object" || !wire.v || !Array.isArray(wire.t) || typeof wire.f !== "number") return null;
    return { value: wire.v, versions: wire.t, freshUntil: wire.f, loadMs: Number(wire.l) || 0 };
  } catch {
    return null;
  }
}

/** null for anything that is not an entry this code wrote (treated as a miss and overwritten). */
export function decodeEntry(raw: string): CacheEntry | null {
  const stored = parseEntry(raw);
  if (!stored) return null;
  try {
    return { ...stored, value: transformer.deserialize(stored.value) };
  } catch {
    return null;
  }
}

export function sameVersions(stored: ReadonlyArray<string>, current: ReadonlyArray<string | null>): boolean {
  if (stored.length !== current.length) return false;
  for (let i = 0; i < stored.length; i++) if (current[i] === null || stored[i] !== current[i]) return false;
  return true;
}
