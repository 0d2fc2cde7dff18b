"use client";

import { Table } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { useLiveUpdates } from "../_components/live";
import { FILE_EVENT_TYPES, OUTBOX_STATUSES, PAGE_SIZE, type OutboxFilter, type OutboxStatus } from "../_components/types";
import { AUDIT_REASON } from "../_components/audit-reason";
import { ConfirmButton, formatTime, plural, QueryError, ResultMessage, shortId, StatusBadge, type Result, TableFrame } from "../_components/ui";
import { EventActions } from "./event-actions";
import { LoadMore } from "~/app/_components/load-more";

const KNOWN_TYPES = FILE_EVENT_TYPES;

export function describeFilter(f: OutboxFilter) {
  const parts = [
    f.status?.length ? `status ${f.status.join(" or ")}` : null,
    f.type ? `type ${f.type}` : null,
    f.aggregateType ? `aggregate ${f.aggregateType}${f.aggregateId ? `:${f.aggregateId}` : ""}` : null,
    f.errorContains ? `error contains “${f.errorContains}”` : null,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : "no filter (all events)";
}

/** Keep the filter in the address bar (shareable, survives reload) without a server round trip. */
function syncUrl(f: OutboxFilter) {
  const params = new URLSearchParams();
  if (f.status?.length) params.set("status", f.status.join(","));
  if (f.type) params.set("type", f.type);
  if (f.aggregateType) params.set("aggregateType", f.aggregateType);
  if (f.aggregateId) params.set("aggregateId", f.aggregateId);
  if (f.errorContains) params.set("error", f.errorContains);
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

export function OutboxView({ initialFilter, canAct }: { initialFilter: OutboxFilter; canAct: boolean }) {
  const trpc = useTRPC();
  useLiveUpdates(["outbox"]);
  const refetchInterval = useRefetchInterval();
  const [filter, setFilter] = useState<OutboxFilter>(initialFilter);
  const [result, setResult] = useState<Result>(null);
  const list = useInfiniteQuery({
    ...trpc.admin.outbox.list.infiniteQueryOptions({ filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });
  const events = list.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = Object.keys(filter).length > 0;

  return (
    <>
      <div className="row page-head">
        <h1>Outbox</h1>
        <RefreshBar queries={[list]} />
      </div>
      <section className="panel">
        <FilterForm
          initial={filter}
          onApply={(f) => {
            setFilter(f);
            setResult(null);
            syncUrl(f);
          }}
        />
        {canAct && <RetryMatching filter={filter} onResult={setResult} />}
        <ResultMessage result={result} />
      </section>
      <section className="panel">
        {list.isError && <QueryError what="outbox events" error={list.error} onRetry={list.refetch} />}
        {list.isPending ? (
          <p className="muted">Loading events…</p>
        ) : events.length === 0 ? (
          <p className="empty">{filtered ? `No event matches ${describeFilter(filter)}.` : "The outbox is empty: no event has been written yet."}</p>
        ) : (
          <div className="table-wrap">
<TableFrame label="Outbox events">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Created</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Aggregate</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Attempts</Table.Th>
                <Table.Th>Published / next attempt</Table.Th>
                <Table.Th>Last error</Table.Th>
                <Table.Th aria-label="Actions" />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {events.map((e) => (
                <Table.Tr key={e.id} data-event-id={e.id}>
                  <Table.Td className="muted nowrap">{formatTime(e.createdAt)}</Table.Td>
                  <Table.Td>
                    <Link href={`/admin/outbox/${e.id}`} aria-label={`Event ${e.eventType} ${e.id}`}>
                      {e.eventType}
                    </Link>
                  </Table.Td>
                  <Table.Td className="nowrap">
                    {e.aggregateType}:{shortId(e.aggregateId)} <span className="muted">#{e.aggregateSeq}</span>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={e.status} />
                  </Table.Td>
                  <Table.Td>
                    {e.attempts}/{e.maxAttempts}
                  </Table.Td>
                  <Table.Td className="muted nowrap">
                    {e.publishedAt ? formatTime(e.publishedAt) : e.status === "pending" || e.status === "failed" ? `next ${formatTime(e.nextAttemptAt)}` : "—"}
                  </Table.Td>
                  <Table.Td className="clip" title={e.lastError ?? undefined}>
                    {e.lastError ?? ""}
                  </Table.Td>
                  <Table.Td>
                    {canAct ? <EventActions event={e} onResult={setResult} /> : <Link href={`/admin/outbox/${e.id}`}>Details</Link>}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </TableFrame>
</div>
        )}
        <LoadMore query={list} />
      </section>
    </>
  );
}

function FilterForm({ initial, onApply }: { initial: OutboxFilter; onApply: (f: OutboxFilter) => void }) {
  const [status, setStatus] = useState<OutboxStatus[]>(initial.status ?? []);
  const [type, setType] = useState(initial.type ?? "");
  const [aggregateType, setAggregateType] = useState(initial.aggregateType ?? "");
  const [aggregateId, setAggregateId] = useState(initial.aggregateId ?? "");
  const [error, setError] = useState(initial.errorContains ?? "");
  const [problem, setProblem] = useState<string | null>(null);

  function apply(event: React.FormEvent) {
    event.preventDefault();
    if (aggregateId.trim() && !aggregateType.trim()) {
      setProblem("Give the aggregate type with the aggregate id (e.g. file).");
      return;
    }
    setProblem(null);
    onApply({
      ...(status.length ? { status } : {}),
      ...(type.trim() ? { type: type.trim() } : {}),
      ...(aggregateType.trim() ? { aggregateType: aggregateType.trim() } : {}),
      ...(aggregateId.trim() ? { aggregateId: aggregateId.trim() } : {}),
      ...(error.trim() ? { errorContains: error.trim() } : {}),
    });
  }

  return (
    <form className="filters" onSubmit={apply} aria-label="Filter outbox events">
      <fieldset className="row">
        <legend>Status</legend>
        {OUTBOX_STATUSES.map((s) => (
          <label key={s} className="inline">
            <input
              type="checkbox"
              checked={status.includes(s)}
              onChange={(e) => setStatus((prev) => (e.target.checked ? [...prev, s] : prev.filter((x) => x !== s)))}
            />
            {s}
          </label>
        ))}
      </fieldset>
      <div className="row">
        <label>
          Event type
          <input value={type} onChange={(e) => setType(e.target.value)} list="outbox-event-types" placeholder="e.g. file.uploaded" />
        </label>
        <datalist id="outbox-event-types">
          {KNOWN_TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <label>
          Aggregate type
          <input value={aggregateType} onChange={(e) => setAggregateType(e.target.value)} placeholder="e.g. file" />
        </label>
        <label>
          Aggregate id
          <input value={aggregateId} onChange={(e) => setAggregateId(e.target.value)} placeholder="exact id" />
        </label>
        <label>
          Error contains
          <input value={error} onChange={(e) => setError(e.target.value)} placeholder="text in the last error" />
        </label>
      </div>
      <div className="row">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button
          type="button"
          onClick={() => {
            setStatus([]);
            setType("");
            setAggregateType("");
            setAggregateId("");
            setError("");
            setProblem(null);
            onApply({});
          }}
        >
          Clear
        </button>
        {problem && (
          <span role="alert" className="error">
            {problem}
          </span>
        )}
      </div>
    </form>
  );
}

function RetryMatching({ filter, onResult }: { filter: OutboxFilter; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const retry = useMutation(
    trpc.admin.outbox.retryMatching.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.pathKey() }) }),
  );
  return (
    <div className="row retry-matching">
      <ConfirmButton
        reason={AUDIT_REASON}
        label="Retry all matching…"
        title="Retry all matching events"
        confirmLabel="Retry them"
        pendingLabel="Retrying…"
        onConfirm={async (reason) => {
          const r = await retry.mutateAsync({ filter, reason: reason.trim() || undefined });
          onResult({
            kind: "ok",
            text:
              r.retried === 0
                ? "No failed or dead event matched: nothing was retried."
                : `${plural(r.retried, "event")} queued for retry${r.capped ? " (stopped at the cap: run it again for the rest)" : ""}.`,
          });
        }}
      >
        <p>
          Every <strong>failed or dead</strong> event matching <strong>{describeFilter(filter)}</strong> goes back to pending with a fresh set of attempts.
          Events with another status are left alone.
        </p>
      </ConfirmButton>
      <span className="muted">Applies to the filter above: {describeFilter(filter)}</span>
    </div>
  );
}
