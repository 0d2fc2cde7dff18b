"use client";

import { BarChart } from "@mantine/charts";
import { Table } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "~/trpc/react";
import { useLiveUpdates } from "./_components/live";
import { RefreshBar, useRefetchInterval } from "./_components/refresh";
import { overviewInputs, OUTBOX_STATUSES, SAGA_STATUSES, type AdminOutputs } from "./_components/types";
import { chartColor } from "./_components/status-colors";
import { failureGroupHref } from "./failures/filter-params";
import { EmptyState, formatCount, formatEstimate, formatDuration, formatPercent, formatTime, LoadingState, QueryError, shortId, Stat, StatusBadge, TableFrame } from "./_components/ui";

export function OverviewView() {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  // Outbox stats, saga metrics and the top failure groups arrive through the live stream; the rest refetch when it says so.
  useLiveUpdates(["outbox", "sagas", "idempotency", "failures"]);
  const live = { refetchInterval };
  const outbox = useQuery({ ...trpc.admin.outbox.stats.queryOptions(overviewInputs.outboxStats), ...live });
  const blocked = useQuery({ ...trpc.admin.outbox.blocked.queryOptions(overviewInputs.blocked), ...live });
  const sagas = useQuery({ ...trpc.admin.sagas.metrics.queryOptions(overviewInputs.sagaMetrics), ...live });
  const idempotency = useQuery({ ...trpc.admin.idempotency.stats.queryOptions(overviewInputs.idempotencyStats), ...live });
  // Cache counters live in Redis, not PostgreSQL: no live topic, they are polled.
  const cache = useQuery({ ...trpc.admin.cache.stats.queryOptions(), refetchInterval: refetchInterval === false ? 5_000 : refetchInterval });
  const failures = useQuery({ ...trpc.admin.failures.groups.queryOptions(overviewInputs.failureGroups), ...live });

  return (
    <>
      <div className="row page-head">
        <h1>Overview</h1>
        <RefreshBar queries={[outbox, blocked, sagas, idempotency, cache, failures]} />
      </div>

      <section className="panel" aria-labelledby="ov-outbox">
        <div className="row panel-head">
          <h2 id="ov-outbox">Outbox</h2>
          <Link href="/admin/outbox">All events →</Link>
        </div>
        {outbox.isError && <QueryError what="outbox stats" error={outbox.error} onRetry={outbox.refetch} />}
        {outbox.isPending ? <LoadingState what="outbox stats" /> : outbox.data && <OutboxStats stats={outbox.data} readAt={outbox.dataUpdatedAt} />}
      </section>

      <section className="panel" aria-labelledby="ov-failures">
        <div className="row panel-head">
          <h2 id="ov-failures">Top failure groups</h2>
          <Link href="/admin/failures">All failure groups →</Link>
        </div>
        {failures.isError && <QueryError what="failure groups" error={failures.error} onRetry={failures.refetch} />}
        {failures.isPending ? <LoadingState what="failure groups" /> : failures.data && <FailureGroupLinks groups={failures.data} />}
      </section>

      <section className="panel" aria-labelledby="ov-blocked">
        <div className="row panel-head">
          <h2 id="ov-blocked">Blocked aggregates</h2>
          <span className="muted">Events waiting behind an earlier unconsumed event of the same aggregate</span>
        </div>
        {blocked.isError && <QueryError what="blocked aggregates" error={blocked.error} onRetry={blocked.refetch} />}
        {blocked.isPending ? <LoadingState what="blocked aggregates" /> : blocked.data && <BlockedTable rows={blocked.data} />}
      </section>

      <div className="grid-2">
        <section className="panel" aria-labelledby="ov-sagas">
          <div className="row panel-head">
            <h2 id="ov-sagas">Sagas</h2>
            <Link href="/admin/sagas">All sagas →</Link>
          </div>
          {sagas.isError && <QueryError what="saga metrics" error={sagas.error} onRetry={sagas.refetch} />}
          {sagas.isPending ? <LoadingState what="saga metrics" /> : sagas.data && <SagaStats metrics={sagas.data} />}
        </section>

        <section className="panel" aria-labelledby="ov-idem">
          <div className="row panel-head">
            <h2 id="ov-idem">Idempotency</h2>
            <Link href="/admin/idempotency">Records →</Link>
          </div>
          {idempotency.isError && <QueryError what="idempotency stats" error={idempotency.error} onRetry={idempotency.refetch} />}
          {idempotency.isPending ? <LoadingState what="idempotency stats" /> : idempotency.data && <IdempotencyStats stats={idempotency.data} />}
        </section>
      </div>

      <section className="panel" aria-labelledby="ov-cache">
        <div className="row panel-head">
          <h2 id="ov-cache">Query cache</h2>
          <Link href="/admin/cache">By prefix →</Link>
        </div>
        {cache.isError && <QueryError what="cache stats" error={cache.error} onRetry={cache.refetch} />}
        {cache.isPending ? <LoadingState what="cache stats" /> : cache.data && <CacheStats stats={cache.data} />}
      </section>
    </>
  );
}

function OutboxStats({ stats, readAt }: { stats: AdminOutputs["outbox"]["stats"]; readAt: number }) {
  const age = stats.oldestDueAgeMs;
  return (
    <>
      <dl className="stats" aria-label="Outbox events by status">
        {OUTBOX_STATUSES.map((status) => (
          <Stat
            key={status}
            label={status}
            tone={(status === "failed" || status === "dead" || status === "stalled") && stats.counts[status] > 0 ? "bad" : undefined}
            value={
              <Link href={`/admin/outbox?status=${status}`}>
                {formatEstimate(stats.counts[status], status === "published" && stats.publishedApproximate)}
              </Link>
            }
          />
        ))}
      </dl>
      <dl className="stats" aria-label="Outbox flow">
        <Stat
          label="Oldest due event"
          value={age === null ? "none due" : formatDuration(age)}
          hint={age === null ? undefined : "waiting"}
          tone={age === null ? "ok" : age > 5 * 60_000 ? "bad" : age > 60_000 ? "warn" : undefined}
        />
        <Stat label="Published / min" value={stats.publishedPerMinute.toFixed(1)} hint={`last ${stats.windowMinutes} min`} />
        <Stat label="Failures / min" value={stats.failedPerMinute.toFixed(1)} hint={`last ${stats.windowMinutes} min`} tone={stats.failedPerMinute > 0 ? "warn" : undefined} />
      </dl>
      <div className="charts">
        <figure>
          <figcaption id="chart-backlog">Backlog by status (pending, failed, dead, stalled…)</figcaption>
          <BacklogChart counts={stats.counts} />
        </figure>
        <figure>
          <figcaption id="chart-rates">Events per minute, last {stats.windowMinutes} min</figcaption>
          <RateChart rates={stats.rates} windowMinutes={stats.windowMinutes} readAt={readAt} />
        </figure>
      </div>
    </>
  );
}

/** The outbox's events by status as bars, published left out (it dwarfs the backlog; its count is above). */
function BacklogChart({ counts }: { counts: AdminOutputs["outbox"]["stats"]["counts"] }) {
  const statuses = OUTBOX_STATUSES.filter((s) => s !== "published");
  const data = statuses.map((status) => ({ status, events: counts[status], color: chartColor(status) }));
  const summary = data.map((d) => `${d.status} ${d.events}`).join(", ");
  return (
    <div role="img" aria-labelledby="chart-backlog" aria-describedby="chart-backlog-summary">
      <BarChart
        h={180}
        data={data}
        dataKey="status"
        series={[{ name: "events", color: "indigo.6", label: "Events" }]}
        withTooltip
        tickLine="y"
        gridAxis="y"
        barProps={{ isAnimationActive: false }}
      />
      <span id="chart-backlog-summary" hidden>
        {summary}
      </span>
    </div>
  );
}

/**
 * Per-minute published and failed counts as stacked bars over the whole window, empty minutes
 * included, ending at the minute the stats were read (the query's time, the same on server and browser).
 */
function RateChart({ rates, windowMinutes, readAt }: { rates: AdminOutputs["outbox"]["stats"]["rates"]; windowMinutes: number; readAt: number }) {
  if (rates.length === 0) return <EmptyState>Nothing published or failed in the last {windowMinutes} minutes.</EmptyState>;
  const byMinute = new Map(rates.map((r) => [r.minute.getTime(), r]));
  const last = Math.floor(readAt / 60_000) * 60_000;
  const data = Array.from({ length: windowMinutes + 1 }, (_, i) => {
    const minute = last - (windowMinutes - i) * 60_000;
    const r = byMinute.get(minute) ?? { published: 0, failed: 0 };
    return { minute: formatTime(new Date(minute)).slice(11, 16), published: r.published, failed: r.failed };
  });
  const total = rates.reduce((s, r) => s + r.published, 0);
  const failed = rates.reduce((s, r) => s + r.failed, 0);
  return (
    <div role="img" aria-label={`Last ${windowMinutes} minutes: ${total} published, ${failed} failed`}>
      <BarChart
        h={180}
        data={data}
        dataKey="minute"
        type="stacked"
        series={[
          { name: "published", color: "indigo.5", label: "Published" },
          { name: "failed", color: "red.6", label: "Failed" },
        ]}
        withLegend
        tickLine="y"
        gridAxis="y"
        barProps={{ isAnimationActive: false }}
      />
    </div>
  );
}

/** Sagas by status as bars. */
function SagaChart({ byStatus }: { byStatus: AdminOutputs["sagas"]["metrics"]["byStatus"] }) {
  const data = SAGA_STATUSES.map((status) => ({ status, sagas: byStatus[status], color: chartColor(status) }));
  return (
    <div role="img" aria-label={`Sagas by status: ${data.map((d) => `${d.status} ${d.sagas}`).join(", ")}`}>
      <BarChart
        h={160}
        data={data}
        dataKey="status"
        series={[{ name: "sagas", color: "indigo.6", label: "Sagas" }]}
        tickLine="y"
        gridAxis="y"
        barProps={{ isAnimationActive: false }}
      />
    </div>
  );
}

function BlockedTable({ rows }: { rows: AdminOutputs["outbox"]["blocked"] }) {
  if (rows.length === 0) return <EmptyState>No aggregate is blocked: every aggregate&apos;s events are flowing.</EmptyState>;
  return (
    <TableFrame label="Blocked aggregates">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Aggregate</Table.Th>
          <Table.Th>Waiting</Table.Th>
          <Table.Th>Held back by</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Since</Table.Th>
          <Table.Th>Last error</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((r) => (
          <Table.Tr key={`${r.aggregateType}:${r.aggregateId}`}>
            <Table.Td>
              <Link href={`/admin/outbox?aggregateType=${encodeURIComponent(r.aggregateType)}&aggregateId=${encodeURIComponent(r.aggregateId)}`}>
                {r.aggregateType}:{shortId(r.aggregateId)}
              </Link>
            </Table.Td>
            <Table.Td>{formatCount(r.waitingEvents)}</Table.Td>
            <Table.Td>
              <Link href={`/admin/outbox/${r.blockedBy.id}`}>
                #{r.blockedBy.aggregateSeq} {r.blockedBy.eventType}
              </Link>
            </Table.Td>
            <Table.Td>
              <StatusBadge status={r.blockedBy.status} />
            </Table.Td>
            <Table.Td className="muted">{formatTime(r.blockedBy.createdAt)}</Table.Td>
            <Table.Td className="clip">{r.blockedBy.lastError ?? "—"}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </TableFrame>
  );
}

function SagaStats({ metrics }: { metrics: AdminOutputs["sagas"]["metrics"] }) {
  return (
    <>
      <dl className="stats" aria-label="Sagas by status">
        {SAGA_STATUSES.map((status) => (
          <Stat
            key={status}
            label={status}
            tone={status === "failed" && metrics.byStatus.failed > 0 ? "bad" : undefined}
            value={<Link href={`/admin/sagas?status=${status}`}>{formatEstimate(metrics.byStatus[status], metrics.estimated.includes(status))}</Link>}
          />
        ))}
      </dl>
      <dl className="stats" aria-label="Saga outcomes">
        <Stat label="Success rate" value={formatPercent(metrics.successRate)} hint="of finished" />
        <Stat label="Compensation rate" value={formatPercent(metrics.compensationRate)} hint="compensated or aborted" />
        <Stat label="Duration p50 / p95" value={`${formatDuration(metrics.durationMs.p50)} / ${formatDuration(metrics.durationMs.p95)}`} />
        <Stat label="Steps per saga" value={metrics.avgSteps === null ? "—" : metrics.avgSteps.toFixed(1)} />
      </dl>
      <SagaChart byStatus={metrics.byStatus} />
    </>
  );
}

function IdempotencyStats({ stats }: { stats: AdminOutputs["idempotency"]["stats"] }) {
  const c = stats.counters;
  return (
    <>
      <dl className="stats" aria-label="Idempotency counters">
        <Stat label="Hit rate" value={formatPercent(stats.hitRate)} hint={`replayed, ${stats.window}`} />
        <Stat label="Keyed requests" value={formatCount(c.requests)} />
        <Stat label="Replayed" value={formatCount(c.replayed)} />
        <Stat label="Conflicts (409)" value={formatCount(c.conflicts)} tone={c.conflicts > 0 ? "warn" : undefined} />
        <Stat label="Mismatches (422)" value={formatCount(c.mismatches)} tone={c.mismatches > 0 ? "warn" : undefined} />
      </dl>
      <dl className="stats" aria-label="Idempotency records">
        <Stat label="Records" value={formatEstimate(stats.records.total, stats.records.estimated.includes("total"))} />
        <Stat label="In progress" value={formatCount(stats.records.inProgress)} />
        <Stat label="Abandoned" value={formatCount(stats.records.abandoned)} tone={stats.records.abandoned > 0 ? "warn" : undefined} />
        <Stat label="Expired" value={formatEstimate(stats.records.expired, stats.records.estimated.includes("expired"))} hint="awaiting clean-up" />
      </dl>
    </>
  );
}

function CacheStats({ stats }: { stats: AdminOutputs["cache"]["stats"] }) {
  const t = stats.totals;
  return (
    <dl className="stats" aria-label="Cache totals">
      <Stat label="Hit rate" value={formatPercent(t.hitRate)} />
      <Stat label="Hits / misses" value={`${formatCount(t.hits + t.stale + t.coalesced + t.waited)} / ${formatCount(t.misses)}`} />
      <Stat label="Keys" value={`${formatCount(t.keys)}${stats.keysScanLimitReached ? "+" : ""}`} />
      <Stat label="Loader time saved" value={formatDuration(t.savedMs)} />
      <Stat
        label="Redis"
        value={stats.redis.breakerOpen ? "breaker open" : stats.redis.status}
        tone={stats.redis.breakerOpen || stats.redis.status !== "ready" ? "bad" : "ok"}
      />
    </dl>
  );
}

/** The biggest failure groups, each one click from its page (where the group retry is). */
function FailureGroupLinks({ groups }: { groups: AdminOutputs["failures"]["groups"] }) {
  if (groups.length === 0) return <EmptyState>No failures: no failed or dead event and no failed saga.</EmptyState>;
  return (
    <ul className="failure-groups" aria-label="Top failure groups">
      {groups.map((g) => (
        <li key={`${g.source}:${g.fingerprint}`}>
          <Link href={failureGroupHref(g)} aria-label={`Failure group ${g.errorClass}: ${g.message} (${formatCount(g.count)} ${g.source === "outbox" ? "events" : "sagas"})`}>
            <strong>{g.errorClass}</strong>: {g.message || "(no message)"}
          </Link>{" "}
          <span className="muted">
            {formatCount(g.count)} {g.source === "outbox" ? "events" : "sagas"}, last {formatTime(g.lastSeen)}
          </span>
        </li>
      ))}
    </ul>
  );
}
