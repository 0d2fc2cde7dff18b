import "server-only";

import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { createTRPCOptionsProxy, type TRPCInfiniteQueryOptions, type TRPCQueryOptions } from "@trpc/tanstack-react-query";
import { cookies } from "next/headers";
import { cache, type ReactNode } from "react";
import { appRouter, createCaller } from "~/server/api/root";
import { createInnerContext } from "~/server/api/trpc";
import { getAppServices } from "~/server/app-services";
import { SESSION_COOKIE } from "~/server/auth/session";
import { makeQueryClient } from "./query-client";

/** The signed-in user of this request (once per request). */
export const getSessionUser = cache(async () => {
  const services = getAppServices();
  const cookie = (await cookies()).get(SESSION_COOKIE)?.value;
  return services.sessions.resolve(cookie);
});

const createContext = cache(async () => createInnerContext(getAppServices(), await getSessionUser()));

export const getQueryClient = cache(makeQueryClient);

/** Server components prefetch with `prefetch(trpc.files.list.queryOptions(...))`. */
export const trpc = createTRPCOptionsProxy({ ctx: createContext, router: appRouter, queryClient: getQueryClient });

export const serverCaller = async () => createCaller(await createContext());

export function HydrateClient({ children }: { children: ReactNode }) {
  return <HydrationBoundary state={dehydrate(getQueryClient())}>{children}</HydrationBoundary>;
}

/** Start a query on the server; its result is dehydrated into the page by HydrateClient. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function prefetch<T extends ReturnType<TRPCQueryOptions<any>> | ReturnType<TRPCInfiniteQueryOptions<any>>>(queryOptions: T) {
  const queryClient = getQueryClient();
  if ((queryOptions.queryKey[1] as { type?: string } | undefined)?.type === "infinite") {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    void queryClient.prefetchInfiniteQuery(queryOptions as any);
  } else {
    void queryClient.prefetchQuery(queryOptions as ReturnType<TRPCQueryOptions<any>>); // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}
