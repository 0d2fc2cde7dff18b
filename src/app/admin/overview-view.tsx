"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "./_components/refresh";
import { overviewInputs, OUTBOX_STATUSES, SAGA_STATUSES, type AdminOutputs } from "./_components/types";
import { formatCount, formatDuration, formatPercent, formatTime, QueryError, shortId, Stat, StatusBadge } from "./_components/ui";

export function OverviewView() {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const live = { refetchInterval };
  const outbox = useQuery({ ...trpc.admin.outbox.stats.queryOptions(overviewInputs.outboxStats), ...live });
  const blocked = useQuery({ ...trpc.admin.outbox.blocked.queryOptions(overviewInputs.blocked), ...live });
  const sagas = useQuery({ ...trpc.admin.sagas.metrics.queryOptions(overviewInputs.sagaMetrics), ...live });
  const idempotency = useQuery({ ...trpc.admin.idempotency.stats.queryOptions(overviewInputs.idempotencyStats), ...live });
  const cache = useQuery({ ...trpc.admin.cache.stats.queryOptions(), ...live });

  return (
    <>
      <div className="row page-head">
        <h1>Overview</h1>
        <RefreshBar queries={[outbox, blocked, sagas, idempotency, cache]} />
      </div>

      <section className="panel" aria-labelledby="ov-outbox">
        <div className="row panel-head">
          <h2 id="ov-outbox">Outbox</h2>
          <Link href="/admin/outbox">All events →</Link>
        </div>
        {outbox.isError && <QueryError what="outbox stats" error={outbox.error} onRetry={outbox.refetch} />}
        {outbox.isPending ? <p className="muted">Loading outbox stats…</p> : outbox.data && <OutboxStats stats={outbox.data} readAt={outbox.dataUpdatedAt} />}
      </section>

      <section className="panel" aria-labelledby="ov-blocked">
        <div className="row panel-head">
          <h2 id="ov-blocked">Blocked aggregates</h2>
          <span className="muted">Events waiting behind an earlier unconsumed event of the same aggregate</span>
        </div>
        {blocked.isError && <QueryError what="blocked aggregates" error={blocked.error} onRetry={blocked.refetch} />}
        {blocked.isPending ? <p className="muted">Loading blocked aggregates…</p> : blocked.data && <BlockedTable rows={blocked.data} />}
      </section>

      <div className="grid-2">
        <section className="panel" aria-labelledby="ov-sagas">
          <div className="row panel-head">
            <h2 id="ov-sagas">Sagas</h2>
            <Link href="/admin/sagas">All sagas →</Link>
          </div>
          {sagas.isError && <QueryError what="saga metrics" error={sagas.error} onRetry={sagas.refetch} />}
          {sagas.isPending ? <p className="muted">Loading saga metrics…</p> : sagas.data && <SagaStats metrics={sagas.data} />}
        </section>

        <section className="panel" aria-labelledby="ov-idem">
          <div className="row panel-head">
            <h2 id="ov-idem">Idempotency</h2>
            <Link href="/admin/idempotency">Records →</Link>
          </div>
          {idempotency.isError && <QueryError what="idempotency stats" error={idempotency.error} onRetry={idempotency.refetch} />}
          {idempotency.isPending ? <p className="muted">Loading idempotency stats…</p> : idempotency.data && <IdempotencyStats stats={idempotency.data} />}
        </section>
      </div>

      <section className="panel" aria-labelledby="ov-cache">
        <div className="row panel-head">
          <h2 id="ov-cache">Query cache</h2>
          <Link href="/admin/cache">By prefix →</Link>
        </div>
        {cache.isError && <QueryError what="cache stats" error={cache.error} onRetry={cache.refetch} />}
        {cache.isPending ? <p className="muted">Loading cache stats…</p> : cache.data && <CacheStats stats={cache.data} />}
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
                {status === "published" && stats.publishedApproximate ? "≈ " : ""}
                {formatCount(stats.counts[status])}
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
      <RateBars rates={stats.rates} windowMinutes={stats.windowMinutes} readAt={readAt} />
    </>
  );
}

/**
 * Per-minute published (and failed) counts as bars over the whole window, empty minutes included,
 * ending at the minute the stats were read (the query's time, the same on server and browser).
 */
function RateBars({ rates, windowMinutes, readAt }: { rates: AdminOutputs["outbox"]["stats"]["rates"]; windowMinutes: number; readAt: number }) {
  if (rates.length === 0) return <p className="muted">Nothing published or failed in the last {windowMinutes} minutes.</p>;
  const byMinute = new Map(rates.map((r) => [r.minute.getTime(), r]));
  const last = Math.floor(readAt / 60_000) * 60_000;
  const minutes = Array.from({ length: windowMinutes + 1 }, (_, i) => last - (windowMinutes - i) * 60_000);
  const max = Math.max(1, ...rates.map((r) => r.published + r.failed));
  const total = rates.reduce((s, r) => s + r.published, 0);
  const failed = rates.reduce((s, r) => s + r.failed, 0);
  return (
    <figure className="rate-chart">
      <div className="bars" role="img" aria-label={`Last ${windowMinutes} minutes: ${total} published, ${failed} failed`}>
        {minutes.map((minute) => {
          const r = byMinute.get(minute) ?? { published: 0, failed: 0 };
          return (
            <div key={minute} className="bar" title={`${formatTime(new Date(minute))}: ${r.published} published, ${r.failed} failed`}>
              <span className="bar-failed" style={{ height: `${(r.failed / max) * 100}%` }} />
              <span className="bar-ok" style={{ height: `${(r.published / max) * 100}%` }} />
            </div>
          );
        })}
      </div>
      <figcaption className="bars-axis muted">
        <span>{windowMinutes} min ago</span>
        <span>events per minute (blue published, red failed; max {max})</span>
        <span>now</span>
      </figcaption>
    </figure>
  );
}

function BlockedTable({ rows }: { rows: AdminOutputs["outbox"]["blocked"] }) {
  if (rows.length === 0) return <p className="empty">No aggregate is blocked: every aggregate&apos;s events are flowing.</p>;
  return (
    <table aria-label="Blocked aggregates">
      <thead>
        <tr>
          <th>Aggregate</th>
          <th>Waiting</th>
          <th>Held back by</th>
          <th>Status</th>
          <th>Since</th>
          <th>Last error</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.aggregateType}:${r.aggregateId}`}>
            <td>
              <Link href={`/admin/outbox?aggregateType=${encodeURIComponent(r.aggregateType)}&aggregateId=${encodeURIComponent(r.aggregateId)}`}>
                {r.aggregateType}:{shortId(r.aggregateId)}
              </Link>
            </td>
            <td>{formatCount(r.waitingEvents)}</td>
            <td>
              <Link href={`/admin/outbox/${r.blockedBy.id}`}>
                #{r.blockedBy.aggregateSeq} {r.blockedBy.eventType}
              </Link>
            </td>
            <td>
              <StatusBadge status={r.blockedBy.status} />
            </td>
            <td className="muted">{formatTime(r.blockedBy.createdAt)}</td>
            <td className="clip">{r.blockedBy.lastError ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
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
            value={<Link href={`/admin/sagas?status=${status}`}>{formatCount(metrics.byStatus[status])}</Link>}
          />
        ))}
      </dl>
      <dl className="stats" aria-label="Saga outcomes">
        <Stat label="Success rate" value={formatPercent(metrics.successRate)} hint="of finished" />
        <Stat label="Compensation rate" value={formatPercent(metrics.compensationRate)} hint="compensated or aborted" />
        <Stat label="Duration p50 / p95" value={`${formatDuration(metrics.durationMs.p50)} / ${formatDuration(metrics.durationMs.p95)}`} />
        <Stat label="Steps per saga" value={metrics.avgSteps === null ? "—" : metrics.avgSteps.toFixed(1)} />
      </dl>
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
        <Stat label="Records" value={formatCount(stats.records.total)} />
        <Stat label="In progress" value={formatCount(stats.records.inProgress)} />
        <Stat label="Abandoned" value={formatCount(stats.records.abandoned)} tone={stats.records.abandoned > 0 ? "warn" : undefined} />
        <Stat label="Expired" value={formatCount(stats.records.expired)} hint="awaiting clean-up" />
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
