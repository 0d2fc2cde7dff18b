import { createHash } from "node:crypto";
import { slotGroup } from "../../platform/redis";
import { transformer } from "../../platform/transformer";

/**
 * Redis key layout of the query cache, all under the app's prefix (config.queuePrefix) so that a
 * test (or a second deployment) sharing one Redis never sees another's entries:
 *
 *   <app>:cache:e:<prefix>:<path>:<scope>:<inputHash>   entry (value + the tag versions it was built under)
 *   <app>:cache:t:{<app>:cache:t}:<tag>                   tag version (an opaque token, replaced on invalidation)
 *   <app>:cache:l:<entry rest>:<versionsHash>             short cross-process loader lock
 *   <app>:cache:stats                                     counters flushed by every process (hash)
 *
 * The cache prefix is the second segment so that "flush a prefix" is one SCAN MATCH pattern.
 *
 * On a Redis Cluster a command may touch one hash slot only. Tag keys carry one hash tag, so the
 * tag commands that must be atomic or single-trip (ENSURE_TAGS' Lua, the invalidation pipeline, MGET of
 * a read's tags) stay in one slot; entries and locks spread over the cluster by their own names
 * (reads that need an entry beside its tags use mgetKeys: one MGET per slot, in parallel).
 */
export interface Keyspace {
  root: string;
}

/** Cache prefixes end up inside a SCAN MATCH pattern: no glob characters allowed. */
export const CACHE_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export function keyspace(appPrefix: string): Keyspace {
  return { root: `${appPrefix}:cache` };
}

export function assertCachePrefix(prefix: string): void {
  if (!CACHE_PREFIX_PATTERN.test(prefix)) {
    throw new Error(`Cache prefix "${prefix}" must be 1-64 letters, digits, '.', '_' or '-' (it is used in a SCAN pattern)`);
  }
}

/**
 * Stable text for an input: superjson first (so Dates, BigInts, Maps keep their identity), then
 * JSON with object keys sorted, so {a,b} and {b,a} are one key.
 */
export function canonicalInput(input: unknown): string {
  if (input === undefined) return "-";
  return stableStringify(transformer.serialize(dropUndefined(input)));
}

/** `{ name: undefined }` and `{}` are the same input to a zod schema: make them one key. */
function dropUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropUndefined);
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefined(v);
  return out;
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : stableStringify(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
}

export function hashText(text: string, length = 32): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, length);
}

/**
 * Whose answer this is. Per-user entries carry the user id AND role: the cache middleware runs in
 * the base chain, before the role checks, so a user whose role was lowered must miss (and then be
 * refused by the role check) instead of being served what their old role could read.
 * Shared entries (results that do not depend on who asks) are still split by role for the same reason.
 */
export function callerScope(user: { id: string; role: string } | null, shared = false): string {
  if (!user) return "anon";
  return shared ? `r:${user.role}` : `u:${user.id}:${user.role}`;
}

export interface EntryAddress {
  prefix: string;
  path: string;
  scope: string;
  input: unknown;
}

export function entryKey(ks: Keyspace, a: EntryAddress): string {
  return `${ks.root}:e:${a.prefix}:${a.path}:${a.scope}:${hashText(canonicalInput(a.input))}`;
}

export function entryPattern(ks: Keyspace, prefix?: string): string {
  return prefix ? `${ks.root}:e:${prefix}:*` : `${ks.root}:e:*`;
}

/** The prefix of an entry key (for "keys per prefix"), or null for a key that is not an entry. */
export function prefixOfEntryKey(ks: Keyspace, key: string): string | null {
  const head = `${ks.root}:e:`;
  if (!key.startsWith(head)) return null;
  const end = key.indexOf(":", head.length);
  return end < 0 ? null : key.slice(head.length, end);
}

export function tagKey(ks: Keyspace, tag: string): string {
  return `${slotGroup(ks.root, "t")}:${tag}`;
}

/** Every entry implicitly carries its prefix's tag: bumping it makes a prefix flush instant and race-free. */
export function prefixTag(prefix: string): string {
  return `prefix:${prefix}`;
}

export function lockKey(ks: Keyspace, entry: string, versions: ReadonlyArray<string>): string {
  return `${ks.root}:l:${entry.slice(ks.root.length + 3)}:${hashText(versions.join(","), 12)}`;
}

export function statsKey(ks: Keyspace): string {
  return `${ks.root}:stats`;
}
