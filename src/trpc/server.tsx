import "server-only";

import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { createTRPCOptionsProxy, type TRPCInfiniteQueryOptions, type TRPCQueryOptions } from "@trpc/tanstack-react-query";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { cache, type ReactNode } from "react";
import { appRouter, createCaller } from "~/server/api/root";
import { createInnerContext } from "~/server/api/trpc";
import { getAppServices } from "~/server/composition";
import { SESSION_COOKIE } from "~/server/auth/session";
import { makeQueryClient } from "./query-client";

export const CHANGE_PASSWORD_PATH = "/change-password";

/** The signed-in user of this request (once per request), whether or not they must change their password. */
export const getSessionUserPendingPasswordChange = cache(async () => {
  const services = getAppServices();
  const cookie = (await cookies()).get(SESSION_COOKIE)?.value;
  return services.sessions.resolve(cookie);
});

/**
 * The signed-in user of this request. A user still holding a one-time password is sent to the
 * change-password page from every page that asks (the procedures refuse them anyway).
 */
export const getSessionUser = cache(async () => {
  const user = await getSessionUserPendingPasswordChange();
  if (user?.mustChangePassword) redirect(CHANGE_PASSWORD_PATH);
  return user;
});

const createContext = cache(async () => createInnerContext(getAppServices(), await getSessionUser()));

export const getQueryClient = cache(makeQueryClient);

/** Server components prefetch with `await prefetch(trpc.files.list.queryOptions(...))`. */
export const trpc = createTRPCOptionsProxy({ ctx: createContext, router: appRouter, queryClient: getQueryClient });

export const serverCaller = async () => createCaller(await createContext());

export function HydrateClient({ children }: { children: ReactNode }) {
  return <HydrationBoundary state={dehydrate(getQueryClient())}>{children}</HydrationBoundary>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyQueryOptions = ReturnType<TRPCQueryOptions<any>> | ReturnType<TRPCInfiniteQueryOptions<any>>;

/**
 * Fetch a page's first data BEFORE rendering; HydrateClient then hands it to the client.
 * Awaited on purpose: the client components use useQuery (not suspense), and a still-pending
 * dehydrated query makes the server render "Loading…" while the browser, whose streamed data has
 * arrived by hydration time, renders the table: React throws the page away (hydration mismatch).
 * A failed query is not dehydrated, so both sides render "Loading…" and the browser retries.
 */
export async function prefetch(...options: AnyQueryOptions[]) {
  const queryClient = getQueryClient();
  await Promise.all(
    options.map((o) =>
      (o.queryKey[1] as { type?: string } | undefined)?.type === "infinite"
        ? // eslint-disable-next-line @typescript-eslint/no-explicit-any
          queryClient.prefetchInfiniteQuery(o as any)
        : // eslint-disable-next-line @typescript-eslint/no-explicit-any
          queryClient.prefetchQuery(o as any),
    ),
  );
}
