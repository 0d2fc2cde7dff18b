"use client";

import { Table } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { useLiveUpdates } from "../_components/live";
import { PAGE_SIZE, SAGA_STATUSES, type SagaStatus } from "../_components/types";
import { formatDuration, formatTime, QueryError, shortId, StatusBadge, TableFrame } from "../_components/ui";
import { LoadMore } from "~/app/_components/load-more";
import { bulkRedriveHref } from "../bulk/links";

export type SagaFilter = { status?: SagaStatus[]; type?: string; correlationId?: string; error?: string };

function syncUrl(f: SagaFilter) {
  const params = new URLSearchParams();
  if (f.status?.length) params.set("status", f.status.join(","));
  if (f.type) params.set("type", f.type);
  if (f.correlationId) params.set("correlationId", f.correlationId);
  if (f.error) params.set("error", f.error);
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

export function SagasView({ initialFilter }: { initialFilter: SagaFilter }) {
  const trpc = useTRPC();
  useLiveUpdates(["sagas"]);
  const refetchInterval = useRefetchInterval();
  const [filter, setFilter] = useState<SagaFilter>(initialFilter);
  const list = useInfiniteQuery({
    ...trpc.admin.sagas.list.infiniteQueryOptions({ ...filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });
  const sagas = list.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <div className="row page-head">
        <h1>Sagas</h1>
        <Link href={bulkRedriveHref(filter)}>Bulk redrive…</Link>
        <RefreshBar queries={[list]} />
      </div>
      <section className="panel">
        <FilterForm
          initial={filter}
          onApply={(f) => {
            setFilter(f);
            syncUrl(f);
          }}
        />
      </section>
      <section className="panel">
        {list.isError && <QueryError what="sagas" error={list.error} onRetry={list.refetch} />}
        {list.isPending ? (
          <p className="muted">Loading sagas…</p>
        ) : sagas.length === 0 ? (
          <p className="empty">{Object.keys(filter).length ? "No saga matches these filters." : "No saga has run yet."}</p>
        ) : (
          <TableFrame label="Sagas">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>Saga</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Step</Table.Th>
                <Table.Th>Took</Table.Th>
                <Table.Th>Last error</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sagas.map((s) => (
                <Table.Tr key={s.id} data-saga-id={s.id}>
                  <Table.Td className="muted nowrap">{formatTime(s.createdAt)}</Table.Td>
                  <Table.Td>
                    <Link href={`/admin/sagas/${s.id}`} aria-label={`Timeline of ${s.type} saga ${s.id}`}>
                      {s.type}
                    </Link>{" "}
                    <span className="muted">{shortId(s.id)}</span>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={s.status} />
                  </Table.Td>
                  <Table.Td>{s.currentStep + 1}</Table.Td>
                  <Table.Td className="nowrap">{s.finishedAt ? formatDuration(s.finishedAt.getTime() - s.createdAt.getTime()) : "—"}</Table.Td>
                  <Table.Td className="clip" title={s.lastError ?? undefined}>
                    {s.lastError ?? ""}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </TableFrame>
        )}
        <LoadMore query={list} />
      </section>
    </>
  );
}

function FilterForm({ initial, onApply }: { initial: SagaFilter; onApply: (f: SagaFilter) => void }) {
  const [status, setStatus] = useState<SagaStatus[]>(initial.status ?? []);
  const [type, setType] = useState(initial.type ?? "");
  const [correlationId, setCorrelationId] = useState(initial.correlationId ?? "");
  const [error, setError] = useState(initial.error ?? "");
  return (
    <form
      className="filters"
      aria-label="Filter sagas"
      onSubmit={(e) => {
        e.preventDefault();
        onApply({
          ...(status.length ? { status } : {}),
          ...(type.trim() ? { type: type.trim() } : {}),
          ...(correlationId.trim() ? { correlationId: correlationId.trim() } : {}),
          ...(error.trim() ? { error: error.trim() } : {}),
        });
      }}
    >
      <fieldset className="row">
        <legend>Status</legend>
        {SAGA_STATUSES.map((s) => (
          <label key={s} className="inline">
            <input type="checkbox" checked={status.includes(s)} onChange={(e) => setStatus((prev) => (e.target.checked ? [...prev, s] : prev.filter((x) => x !== s)))} />
            {s}
          </label>
        ))}
      </fieldset>
      <div className="row">
        <label>
          Saga type
          <input value={type} onChange={(e) => setType(e.target.value)} list="saga-types" placeholder="e.g. file.upload" />
        </label>
        <datalist id="saga-types">
          <option value="file.upload" />
        </datalist>
        <label>
          Correlation id
          <input value={correlationId} onChange={(e) => setCorrelationId(e.target.value)} />
        </label>
        <label>
          Error contains
          <input value={error} onChange={(e) => setError(e.target.value)} />
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
            setCorrelationId("");
            setError("");
            onApply({});
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}
