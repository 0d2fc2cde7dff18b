/**
 * What a procedure declares in `.meta({...})`, read by the middlewares: the cache and idempotency
 * behaviour, and whether a session that must change its password may call it.
 */
import type { InnerContext } from "./context";

/**
 * The raw input of the call, before the procedure's own validator runs (the middleware sits before
 * it). Tag functions must cope with anything; an input that fails validation is never cached,
 * because the loader then fails.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RawInput = any;

export interface CacheMeta {
  /** Fresh lifetime in seconds (the original design's @CacheTTL). */
  ttl: number;
  /** Key prefix (the original design's @CacheKeyPrefix): the unit of "flush by prefix" and of stats. */
  prefix: string;
  /** Tags this result depends on; a mutation invalidating any of them drops it. */
  tags?: (args: { input: RawInput; ctx: InnerContext }) => string[];
  /** Stale-while-revalidate window in seconds: serve a just-expired value while one loader refreshes it. */
  swr?: number;
  /**
   * true only when the result does not depend on who asks (still split by role). Default: per user,
   * so one user's cached data can never be served to another.
   */
  shared?: boolean;
}

/** Tags a successful mutation touched, computed from its input, its result and the context. */
export type InvalidatesMeta = (args: { input: RawInput; data: RawInput; ctx: InnerContext }) => string[];

/**
 * Behaviour declared per procedure and read by middlewares (the tRPC form of the original
 * design's decorators). Fields are added by the cache and idempotency modules.
 */
export interface ProcedureMeta {
  /** Human label for logs and the dashboard. */
  description?: string;
  /** Idempotency-Key handling (on by default for every mutation); `false` for mutations that must not replay (auth). */
  idempotency?: boolean;
  /** Cache-aside for a query (ttl seconds, key prefix, tags): see middleware/cache.ts. */
  cache?: CacheMeta;
  /** Cache tags a mutation touches, invalidated after it commits. */
  invalidates?: InvalidatesMeta;
  /**
   * Callable by a session that must still replace its one-time password (reading the session,
   * changing the password, signing in or out). Every other procedure refuses such a session.
   */
  allowedBeforePasswordChange?: boolean;
}

