import { httpBatchLink, httpLink, isNonJsonSerializable, splitLink, type TRPCLink } from "@trpc/client";
import type { AppRouter } from "~/server/api/root";
import { TRPC_MAX_BATCH_SIZE } from "~/server/api/limits";
import { transformer } from "~/server/platform/transformer";
import { idempotencyHeaders, idempotencyLink } from "./idempotency-link";

/**
 * Links shared by the app client: every mutation gets an Idempotency-Key (reused on its retries).
 * Mutations and FormData bodies go unbatched (one key header per request); queries are batched, at
 * most TRPC_MAX_BATCH_SIZE per request (the server refuses a larger batch with 400).
 */
export function appLinks(opts: { url: string; fetch?: typeof fetch }): TRPCLink<AppRouter>[] {
  const fetchOption = opts.fetch ? { fetch: opts.fetch } : {};
  return [
    idempotencyLink<AppRouter>(),
    splitLink({
      condition: (op) => op.type === "mutation" || isNonJsonSerializable(op.input),
      true: httpLink({ url: opts.url, transformer, headers: idempotencyHeaders, ...fetchOption }),
      false: httpBatchLink({ url: opts.url, transformer, maxItems: TRPC_MAX_BATCH_SIZE, ...fetchOption }),
    }),
  ];
}
