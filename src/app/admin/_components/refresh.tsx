"use client";

import { Button, Group, Switch } from "@mantine/core";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from "react";
import { LiveIndicator } from "./live";

/** Polling interval when the live stream is down (or a page has no live topic). */
export const REFRESH_MS = 5_000;

/** How the page's data is kept current: streamed, polled, or not at all. `off`: no live topic on this page. */
export type LiveMode = "live" | "connecting" | "polling" | "paused" | "off";
export interface LiveState {
  mode: LiveMode;
  /** When the last live snapshot arrived. */
  at?: number;
  /** Why the stream is down, when it is. */
  reason?: string;
}

const RefreshContext = createContext<{
  paused: boolean;
  setPaused: (paused: boolean) => void;
  live: LiveState;
  setLive: (live: LiveState) => void;
}>({ paused: false, setPaused: () => {}, live: { mode: "off" }, setLive: () => {} });

/** The dashboard's pause toggle (kept across pages) and the live stream's state. */
export function RefreshProvider({ children }: { children: ReactNode }) {
  const [paused, setPaused] = useState(false);
  const [live, setLiveState] = useState<LiveState>({ mode: "off" });
  const setLive = useCallback((next: LiveState) => setLiveState((prev) => (prev.mode === next.mode && prev.reason === next.reason && next.at === undefined ? prev : { ...prev, ...next })), []);
  const value = useMemo(() => ({ paused, setPaused, live, setLive }), [paused, live, setLive]);
  return <RefreshContext.Provider value={value}>{children}</RefreshContext.Provider>;
}

/**
 * The `refetchInterval` for a dashboard query: none while the live stream is connected (changes
 * arrive through it) or paused; REFRESH_MS otherwise — the polling fallback.
 */
export function useRefetchInterval(): number | false {
  const { paused, live } = useContext(RefreshContext);
  return paused || live.mode === "live" ? false : REFRESH_MS;
}

export function usePause() {
  const { paused, setPaused } = useContext(RefreshContext);
  return { paused, setPaused };
}

export function useLiveState() {
  const { live, setLive } = useContext(RefreshContext);
  return { live, setLive };
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
 * The live/polling indicator with "updated 3s ago", a Refresh button and the pause toggle, for the
 * queries of one page. The age is of the OLDEST of them, so a query that keeps failing shows as
 * stale rather than hiding behind the fresh ones; while live, a snapshot that arrived later counts.
 */
export function RefreshBar({ queries }: { queries: Refreshable[] }) {
  const hydrated = useHydrated();
  const { paused, setPaused } = usePause();
  const { live } = useLiveState();
  const loaded = queries.filter((q) => q.dataUpdatedAt > 0);
  const oldest = loaded.length ? Math.min(...loaded.map((q) => q.dataUpdatedAt)) : 0;
  const updatedAt = live.mode === "live" && live.at ? Math.max(oldest, live.at) : oldest;
  // A server-prefetched query is still "fetching" while the server renders: only the browser's state counts.
  const fetching = hydrated && queries.some((q) => q.isFetching);
  return (
    <Group gap="sm" className="refresh-bar" wrap="wrap">
      <LiveIndicator updatedAt={updatedAt} fetching={fetching} />
      <Button size="xs" variant="default" onClick={() => queries.forEach((q) => void q.refetch())} disabled={fetching}>
        Refresh
      </Button>
      <Switch size="sm" checked={!paused} onChange={(e) => setPaused(!e.currentTarget.checked)} label="Live updates" />
    </Group>
  );
}
