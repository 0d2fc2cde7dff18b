import { httpBatchLink, httpLink, httpSubscriptionLink, isNonJsonSerializable, splitLink, type TRPCLink } from "@trpc/client";
import type { AppRouter } from "~/server/api/root";
import { TRPC_MAX_BATCH_SIZE } from "~/server/api/limits";
import { transformer } from "~/server/platform/transformer";
import { idempotencyHeaders, idempotencyLink } from "./idempotency-link";

/**
 * Links shared by the app client: every mutation gets an Idempotency-Key (reused on its retries).
 * Subscriptions go over SSE. Mutations and FormData bodies go unbatched (one key header per request); queries are batched, at
 * most TRPC_MAX_BATCH_SIZE per request (the server refuses a larger batch with 400).
 */
export function appLinks(opts: { url: string; fetch?: typeof fetch }): TRPCLink<AppRouter>[] {
  const fetchOption = opts.fetch ? { fetch: opts.fetch } : {};
  return [
    idempotencyLink<AppRouter>(),
    splitLink({
      // Subscriptions (the console's live updates) are Server-Sent Events: the browser's EventSource
      // sends the session cookie and reconnects on its own, resuming from the last event id.
      condition: (op) => op.type === "subscription",
      true: httpSubscriptionLink({ url: opts.url, transformer }),
      false: splitLink({
        condition: (op) => op.type === "mutation" || isNonJsonSerializable(op.input),
        true: httpLink({ url: opts.url, transformer, headers: idempotencyHeaders, ...fetchOption }),
        false: httpBatchLink({ url: opts.url, transformer, maxItems: TRPC_MAX_BATCH_SIZE, ...fetchOption }),
      }),
    }),
  ];
}
