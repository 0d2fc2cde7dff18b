"use client";

import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { createTRPCClient } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import type { AppRouter } from "~/server/api/root";
import { appLinks as linksFor } from "./links";
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

/** The app client's links (see ./links.ts), pointed at this app's endpoint. */
export function appLinks() {
  return linksFor({ url: trpcUrl() });
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
