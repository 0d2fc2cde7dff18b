import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { CACHE_PREFIX_PATTERN } from "../../../reliability/cache";
import { auditContextOf, operatorReason } from "../../audit-context";
import type { InnerContext } from "../../trpc";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

function cacheOf(ctx: InnerContext) {
  if (!ctx.cacheAdmin) {
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: "The query cache is turned off (CACHE_ENABLED=false): there is nothing to show or flush" });
  }
  return ctx.cacheAdmin;
}

/** Operator view of the query cache: counters and keys per prefix (viewers), flushes (operators). */
export const cacheAdminRouter = createTRPCRouter({
  /** Hits, misses, hit rate and loader time saved per prefix (all processes), keys per prefix, Redis state. */
  stats: viewerProcedure.query(({ ctx }) => cacheOf(ctx).stats()),

  /** Drop every entry under a prefix (e.g. "files"): instant through its tag, keys removed with SCAN batches. */
  flushPrefix: operatorProcedure
    .input(z.object({ prefix: z.string().regex(CACHE_PREFIX_PATTERN, "prefix is 1-64 letters, digits, '.', '_' or '-' (e.g. files)"), reason: operatorReason }))
    .mutation(({ ctx, input }) => cacheOf(ctx).flushPrefix(input.prefix, auditContextOf(ctx, input.reason))),

  /** Invalidate one tag (e.g. "files:owner:<user id>" or "file:<file id>"). */
  flushTag: operatorProcedure
    .input(z.object({ tag: z.string().trim().min(1, "the tag cannot be empty").max(200, "tags are at most 200 characters"), reason: operatorReason }))
    .mutation(async ({ ctx, input }) => {
      const ok = await cacheOf(ctx).flushTag(input.tag, auditContextOf(ctx, input.reason));
      if (!ok) {
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "Redis did not answer; the tag will be invalidated when it is back (retry to confirm)" });
      }
      return { tag: input.tag, invalidated: true };
    }),
});
