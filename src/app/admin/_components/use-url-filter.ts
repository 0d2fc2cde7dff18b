"use client";

import { usePathname, useSearchParams } from "next/navigation";
import { useCallback, useMemo } from "react";
import type { UrlFilter } from "./url-filter";

/**
 * The list's filter, read from the URL, and a setter that pushes a history entry. Next.js syncs
 * history.pushState into useSearchParams, so applying a filter costs no server round trip, and
 * back/forward restore the earlier filter. `key` changes with the URL: give it to the filter form
 * so the form shows what the URL says after back/forward.
 */
export function useUrlFilter<T>(codec: UrlFilter<T>) {
  const searchParams = useSearchParams();
  const pathname = usePathname();
  const key = searchParams.toString();
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the codec is a module constant; the key is the URL
  const filter = useMemo(() => codec.parse(new URLSearchParams(key)), [key]);
  const setFilter = useCallback(
    (next: T) => {
      const qs = codec.format(next).toString();
      if (qs === key) return;
      window.history.pushState(null, "", qs ? `${pathname}?${qs}` : pathname);
    },
    [codec, key, pathname],
  );
  return { filter, setFilter, key };
}
