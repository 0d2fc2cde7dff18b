"use client";

import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpLink, isNonJsonSerializable, splitLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import type { AppRouter } from "~/server/api/root";
import { transformer } from "~/server/transformer";
import { idempotencyHeaders, idempotencyLink } from "./idempotency-link";
import { makeQueryClient } from "./query-client";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

let browserQueryClient: QueryClient | undefined;
function getQueryClient() {
  if (typeof window === "undefined") return makeQueryClient(); // a new one per server render
  browserQueryClient ??= makeQueryClient(); // one per browser tab, kept across suspense
  return browserQueryClient;
}

export function trpcUrl() {
  return typeof window === "undefined" ? `http://127.0.0.1:${process.env.PORT ?? 3000}/api/trpc` : "/api/trpc";
}

/**
 * Links shared by the app client: every mutation gets an Idempotency-Key (reused on its retries).
 * Mutations and FormData bodies go unbatched (one key header per request); queries are batched.
 */
export function appLinks() {
  return [
    idempotencyLink<AppRouter>(),
    splitLink({
      condition: (op) => op.type === "mutation" || isNonJsonSerializable(op.input),
      true: httpLink({ url: trpcUrl(), transformer, headers: idempotencyHeaders }),
      false: httpBatchLink({ url: trpcUrl(), transformer }),
    }),
  ];
}

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  const queryClient = getQueryClient();
  const [trpcClient] = useState(() => createTRPCClient<AppRouter>({ links: appLinks() }));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
