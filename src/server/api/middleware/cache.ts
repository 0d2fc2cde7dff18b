/**
 * The tRPC side of the query cache: reads `meta.cache` on queries (cache-aside through the domain's
 * QueryCache) and `meta.invalidates` on mutations (tags invalidated once the mutation has committed).
 * It sits in the base chain, right inside the domain-error mapping; the cache logic itself lives in
 * src/server/reliability/cache (framework-free, shared with the worker).
 */
import { currentTransaction } from "../../platform/db/transaction";
import { callerScope } from "../../reliability/cache";
import type { InnerContext } from "../context";
import { t } from "../init";
import type { ProcedureMeta } from "../procedure-meta";

export type { CacheMeta, InvalidatesMeta, RawInput } from "../procedure-meta";

interface CacheMiddlewareOpts<R> {
  ctx: InnerContext;
  meta: ProcedureMeta | undefined;
  type: "query" | "mutation" | "subscription";
  path: string;
  getRawInput: () => Promise<unknown>;
  next: () => Promise<R>;
}

/** Carries the procedure's own error result through the cache (errors are never cached). */
class LoaderFailed<R> extends Error {
  constructor(readonly result: R) {
    super("procedure failed");
  }
}

let warnedInsideTransaction = false;

export async function cacheMiddleware<R>(opts: CacheMiddlewareOpts<R>): Promise<R> {
  const { ctx, meta, type, next } = opts;
  const cache = ctx.cache;
  if (!cache) return next();

  if (type === "query" && meta?.cache) {
    const spec = meta.cache;
    const input = await opts.getRawInput();
    let tags: string[];
    try {
      tags = spec.tags ? spec.tags({ input, ctx }) : [];
    } catch (error) {
      // An entry without its tags could outlive a write: do not cache this call at all.
      ctx.logger.error({ err: error, path: opts.path }, "query cache: the tags function failed; answering uncached");
      return next();
    }
    try {
      // Over HTTP a hit is answered still serialized (the response transformer sends it as is);
      // in-process callers (server components, tests) get a decoded value of their own.
      const wrap = ctx.request?.serializedByHandler ? cache.wrapForResponse.bind(cache) : cache.wrap.bind(cache);
      const data = await wrap(
        {
          prefix: spec.prefix,
          path: opts.path,
          scope: callerScope(ctx.user, spec.shared),
          input,
          ttlMs: spec.ttl * 1000,
          swrMs: (spec.swr ?? 0) * 1000,
          tags,
        },
        async () => {
          const result = (await next()) as R & { ok: boolean; data?: unknown };
          if (!result.ok) throw new LoaderFailed(result);
          return result.data;
        },
      );
      // The same shape next() returns; tRPC reads only `ok` and `data` from it.
      return { ok: true, data, marker: "middlewareMarker", ctx } as unknown as R;
    } catch (error) {
      if (error instanceof LoaderFailed) return error.result as R;
      throw error;
    }
  }

  if (type === "mutation" && meta?.invalidates) {
    const result = (await next()) as R & { ok: boolean; data?: unknown };
    if (!result.ok) return result; // nothing committed, nothing to invalidate
    let tags: string[] = [];
    try {
      tags = meta.invalidates({ input: await opts.getRawInput(), data: result.data, ctx });
    } catch (error) {
      ctx.logger.error({ err: error, path: opts.path }, "query cache: the invalidates function of a mutation failed; entries expire with their TTL");
    }
    if (currentTransaction() && !warnedInsideTransaction) {
      // Invalidating before the commit lets a concurrent read cache the pre-commit row again; the
      // outbox consumer then repairs it. Keep transaction-opening middlewares inside this one.
      warnedInsideTransaction = true;
      ctx.logger.warn({ path: opts.path }, "query cache: invalidation runs inside an open transaction (before its commit)");
    }
    // Awaited so the writer's next read sees its write; fail-open, so it never hangs or throws.
    await cache.invalidate(tags);
    return result;
  }

  return next();
}

/** The query cache middleware, for the procedure ladder (trpc.ts). */
export const cache = t.middleware(cacheMiddleware);
