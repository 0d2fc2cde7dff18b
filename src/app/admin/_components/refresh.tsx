"use client";

import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from "react";

/** Auto-refresh every few seconds, paused for the whole dashboard by one toggle (kept across pages). */
export const REFRESH_MS = 5_000;

const RefreshContext = createContext<{ paused: boolean; setPaused: (paused: boolean) => void }>({ paused: false, setPaused: () => {} });

export function RefreshProvider({ children }: { children: ReactNode }) {
  const [paused, setPaused] = useState(false);
  return <RefreshContext.Provider value={{ paused, setPaused }}>{children}</RefreshContext.Provider>;
}

/** The `refetchInterval` for a dashboard query: REFRESH_MS, or false while paused. */
export function useRefetchInterval(): number | false {
  return useContext(RefreshContext).paused ? false : REFRESH_MS;
}

export function usePause() {
  return useContext(RefreshContext);
}

/** The current time, ticking once a second (for "updated 3s ago"). */
export function useNow(intervalMs = 1000) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

const noSubscription = () => () => {};

/** False on the server and during hydration, true after: for what only the browser knows. */
export function useHydrated() {
  return useSyncExternalStore(noSubscription, () => true, () => false);
}

export function formatAgo(ms: number) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

type Refreshable = { dataUpdatedAt: number; isFetching: boolean; refetch: () => unknown };

/**
 * "Updated 3s ago", a Refresh button and the pause toggle, for the queries of one page. The age is
 * of the OLDEST of them, so a query that keeps failing shows as stale rather than hiding behind
 * the fresh ones.
 */
export function RefreshBar({ queries }: { queries: Refreshable[] }) {
  const now = useNow();
  const hydrated = useHydrated();
  const { paused, setPaused } = usePause();
  const loaded = queries.filter((q) => q.dataUpdatedAt > 0);
  const updatedAt = loaded.length ? Math.min(...loaded.map((q) => q.dataUpdatedAt)) : 0;
  // A server-prefetched query is still "fetching" while the server renders: only the browser's state counts.
  const fetching = hydrated && queries.some((q) => q.isFetching);
  const text = `${updatedAt ? `Updated ${formatAgo(now - updatedAt)} ago` : "Not loaded yet"}${fetching ? " · refreshing…" : ""}`;
  return (
    <div className="row refresh-bar">
      <span className="muted" suppressHydrationWarning>
        {text}
      </span>
      <button type="button" onClick={() => queries.forEach((q) => void q.refetch())} disabled={fetching}>
        Refresh
      </button>
      <label className="inline">
        <input type="checkbox" checked={!paused} onChange={(e) => setPaused(!e.target.checked)} />
        Auto-refresh every {REFRESH_MS / 1000}s
      </label>
    </div>
  );
}
