"use client";

import { Badge, Group, Text, Tooltip } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useEffect, useRef } from "react";
import { useTRPC } from "~/trpc/react";
import { formatAgo, REFRESH_MS, useHydrated, useLiveState, useNow, usePause, type LiveMode } from "./refresh";
import type { LiveSnapshots } from "~/server/reliability/live/live-feeds";
import { overviewInputs, type AdminInputs } from "./types";

export type LiveTopic = AdminInputs["live"]["watch"]["topics"][number];

/** After the stream was refused or ended, how long the page polls before it tries streaming again. */
const RESUBSCRIBE_AFTER_MS = 15_000;

/**
 * Keeps this page's queries of the given topics current through the `admin.live.watch` stream
 * (Server-Sent Events). The overview's snapshots (outbox stats, saga metrics, top failure groups) go straight into the query cache; every other
 * query of a changed topic (lists, details) is invalidated, so what is on screen refetches once.
 * While the stream is down the page polls (useRefetchInterval), and the stream is tried again.
 */
export function useLiveUpdates(topics: readonly LiveTopic[]) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { paused } = usePause();
  const hydrated = useHydrated();
  const { setLive } = useLiveState();
  const received = useRef(0);

  const onData = useCallback(
    ({ data }: { data: { snapshots: Partial<LiveSnapshots> } }) => {
      const { snapshots } = data;
      const first = received.current === 0;
      received.current += 1;
      setLive({ mode: "live", at: Date.now() });
      if (snapshots.outbox) {
        const stats = trpc.admin.outbox.stats.queryKey(overviewInputs.outboxStats);
        queryClient.setQueryData(stats, snapshots.outbox.stats);
        if (!first) void queryClient.invalidateQueries({ ...trpc.admin.outbox.pathFilter(), predicate: (q) => JSON.stringify(q.queryKey) !== JSON.stringify(stats) });
      }
      if (snapshots.sagas) {
        const metrics = trpc.admin.sagas.metrics.queryKey(overviewInputs.sagaMetrics);
        queryClient.setQueryData(metrics, snapshots.sagas.metrics);
        if (!first) void queryClient.invalidateQueries({ ...trpc.admin.sagas.pathFilter(), predicate: (q) => JSON.stringify(q.queryKey) !== JSON.stringify(metrics) });
      }
      if (snapshots.failures) {
        const top = trpc.admin.failures.groups.queryKey(overviewInputs.failureGroups);
        queryClient.setQueryData(top, snapshots.failures.groups);
        if (!first) void queryClient.invalidateQueries({ ...trpc.admin.failures.pathFilter(), predicate: (q) => JSON.stringify(q.queryKey) !== JSON.stringify(top) });
      }
      // Idempotency stats also carry Redis counters the snapshot does not: refetch them.
      if (snapshots.idempotency && !first) void queryClient.invalidateQueries(trpc.admin.idempotency.pathFilter());
    },
    [trpc, queryClient, setLive],
  );
  // onData runs when an event arrives, never during render (the compiler cannot tell: it reads a ref).
  // eslint-disable-next-line react-hooks/refs
  const subscription = useSubscription(trpc.admin.live.watch.subscriptionOptions({ topics: [...topics] }, { enabled: hydrated && !paused, onData }));

  const { status, error, reset } = subscription;
  // The mode the page shows, from the stream's state. `connecting` with an error is a retryable
  // failure (database down, network): the link reconnects by itself, the page polls meanwhile.
  useEffect(() => {
    if (paused) return setLive({ mode: "paused" });
    if (status === "pending" && received.current > 0) return setLive({ mode: "live" });
    if (status === "error" || (status === "connecting" && error)) return setLive({ mode: "polling", reason: error?.message });
    if (status === "connecting") return setLive({ mode: "connecting" });
  }, [status, error, paused, setLive]);

  // A refused stream (a role taken away) or one the server ended (its maximum age) is opened again
  // later; the new request passes sign-in and the role check again.
  useEffect(() => {
    if (paused || !hydrated) return;
    if (status !== "error" && !(status === "idle" && received.current > 0)) return;
    const timer = setTimeout(() => {
      received.current = 0;
      reset();
    }, status === "idle" ? 0 : RESUBSCRIBE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [status, paused, hydrated, reset]);

  useEffect(() => () => setLive({ mode: "off" }), [setLive]);
  return subscription;
}

const MODE_LOOK: Record<LiveMode, { color: string; label: string }> = {
  live: { color: "green", label: "Live" },
  connecting: { color: "gray", label: "Connecting" },
  polling: { color: "orange", label: "Polling" },
  paused: { color: "gray", label: "Paused" },
  off: { color: "gray", label: "Polling" },
};

/**
 * "Live · updated 3s ago" (the stream is connected: changes arrive as they happen), "Polling ·
 * updated 3s ago" (the stream is down, or the page has no live topic: queries refetch every few
 * seconds), or "Paused". The age is of the oldest data on the page.
 */
export function LiveIndicator({ updatedAt, fetching }: { updatedAt: number; fetching?: boolean }) {
  const now = useNow();
  const { live } = useLiveState();
  const look = MODE_LOOK[live.mode];
  const age = updatedAt ? `updated ${formatAgo(now - updatedAt)} ago` : "not loaded yet";
  const explain =
    live.mode === "live"
      ? "Changes stream from the server as they happen"
      : live.mode === "polling" || live.mode === "off"
        ? `Refreshing every ${REFRESH_MS / 1000}s${live.reason ? ` (live updates unavailable: ${live.reason})` : ""}`
        : live.mode === "paused"
          ? "Updates are paused"
          : "Opening the live stream";
  return (
    <Tooltip label={explain} withArrow>
      <Group gap={6} wrap="nowrap" data-testid="live-indicator" data-mode={live.mode === "off" ? "polling" : live.mode} aria-live="polite">
        <Badge color={look.color} variant="dot" size="md" tt="none">
          {look.label}
        </Badge>
        <Text size="sm" c="dimmed" suppressHydrationWarning>
          {age}
          {fetching ? " · refreshing…" : ""}
        </Text>
      </Group>
    </Tooltip>
  );
}
