import "server-only";

import type { TRPCInfiniteQueryOptions, TRPCQueryOptions } from "@trpc/tanstack-react-query";
import { getQueryClient } from "~/trpc/server";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOptions = ReturnType<TRPCQueryOptions<any>> | ReturnType<TRPCInfiniteQueryOptions<any>>;

/**
 * Fetch a page's first data BEFORE rendering, unlike `prefetch` (which streams a pending query).
 * The dashboard's client components use useQuery, not suspense: with a pending query the server
 * renders "Loading…" while the browser, whose streamed data has arrived by hydration time,
 * renders the table, and React throws the page away (hydration mismatch). A failed query is not
 * dehydrated, so both sides render "Loading…" and the browser shows the error after its own try.
 */
export async function prefetchNow(...options: AnyOptions[]) {
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
