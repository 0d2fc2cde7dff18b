"use client";

import { Table } from "@mantine/core";
import Link from "next/link";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { traceHref } from "../trace/trace-links";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { useLiveUpdates } from "../_components/live";
import { RECORDS_PAGE, type AdminInputs, type AdminOutputs } from "../_components/types";
import { AUDIT_REASON } from "../_components/audit-reason";
import { ConfirmButton, formatCount, formatEstimate, formatPercent, formatTime, JsonBlock, plural, QueryError, ResultMessage, shortId, Stat, StatusBadge, type Result, TableFrame } from "../_components/ui";
import { LoadMore } from "~/app/_components/load-more";


type RecordSearch = Omit<AdminInputs["idempotency"]["records"], "cursor" | "limit">;

const COUNTERS: Array<{ key: keyof AdminOutputs["idempotency"]["stats"]["counters"]; label: string; help: string }> = [
  { key: "requests", label: "Keyed requests", help: "mutations that carried a valid key" },
  { key: "executed", label: "Executed", help: "ran the procedure" },
  { key: "replayed", label: "Replayed", help: "answered from a stored result" },
  { key: "conflicts", label: "Conflicts (409)", help: "same key still in progress" },
  { key: "mismatches", label: "Mismatches (422)", help: "same key, other input" },
  { key: "malformed", label: "Malformed (400)", help: "bad key" },
  { key: "storedErrors", label: "Stored errors", help: "deterministic errors kept for replay" },
  { key: "released", label: "Released", help: "unexpected failures that freed the key" },
  { key: "recovered", label: "Recovered", help: "claims taken over after their lease ran out" },
];

const WINDOWS = [
  { label: "All time", hours: undefined },
  { label: "Last hour", hours: 1 },
  { label: "Last 24 hours", hours: 24 },
  { label: "Last 7 days", hours: 168 },
];

/** `initialKey`: the records of one key (/admin/idempotency?key=…, the console search's link). */
export function IdempotencyView({ canAct, initialKey }: { canAct: boolean; initialKey?: string }) {
  const trpc = useTRPC();
  useLiveUpdates(["idempotency"]);
  const refetchInterval = useRefetchInterval();
  const [hours, setHours] = useState<number | undefined>(undefined);
  const [search, setSearch] = useState<RecordSearch>(initialKey ? { key: initialKey } : {});
  const stats = useQuery({ ...trpc.admin.idempotency.stats.queryOptions(hours === undefined ? {} : { hours }), refetchInterval });
  const records = useInfiniteQuery({
    ...trpc.admin.idempotency.records.infiniteQueryOptions({ ...search, limit: RECORDS_PAGE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });
  const items = records.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <div className="row page-head">
        <h1>Idempotency</h1>
        <RefreshBar queries={[stats, records]} />
      </div>
      <section className="panel" aria-labelledby="idem-stats">
        <div className="row panel-head">
          <h2 id="idem-stats">Counters</h2>
          <label className="inline">
            Window
            <select value={hours ?? ""} onChange={(e) => setHours(e.target.value ? Number(e.target.value) : undefined)}>
              {WINDOWS.map((w) => (
                <option key={w.label} value={w.hours ?? ""}>
                  {w.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        {stats.isError && <QueryError what="idempotency stats" error={stats.error} onRetry={stats.refetch} />}
        {stats.isPending ? <p className="muted">Loading counters…</p> : stats.data && <StatsBlock stats={stats.data} />}
        {canAct && <DeleteExpired expired={stats.data?.records.expired} />}
      </section>

      <section className="panel" aria-labelledby="idem-records">
        <h2 id="idem-records">Records</h2>
        <SearchForm onSearch={setSearch} initialKey={initialKey} />
        {records.isError && <QueryError what="idempotency records" error={records.error} onRetry={records.refetch} />}
        {records.isPending ? (
          <p className="muted">Loading records…</p>
        ) : items.length === 0 ? (
          <p className="empty">{search.key ? `No record has the key “${search.key}” (it may have expired and been cleaned up).` : "No record matches."}</p>
        ) : (
          <div className="table-wrap">
<TableFrame label="Idempotency records">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Created</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th>Procedure</Table.Th>
                <Table.Th>User</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Stored result</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td className="muted nowrap">{formatTime(r.createdAt)}</Table.Td>
                  <Table.Td>
                    <code className="key">{r.key}</code> <Link href={traceHref("idempotency", r.id)}>trace</Link>
                  </Table.Td>
                  <Table.Td>{r.procedure}</Table.Td>
                  <Table.Td className="muted" title={r.userId}>
                    {r.userId === "anon" ? "anonymous" : shortId(r.userId)}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={r.state} />
                    {r.state === "in_progress" && r.leaseUntil && <div className="muted small">lease until {formatTime(r.leaseUntil)}</div>}
                  </Table.Td>
                  <Table.Td>{r.responseStatus ?? "—"}</Table.Td>
                  <Table.Td className="muted nowrap">{formatTime(r.expiresAt)}</Table.Td>
                  <Table.Td>
                    {r.outcome ? (
                      <details>
                        <summary>{r.outcome.type === "data" ? "data" : `error ${r.outcome.code}`}</summary>
                        <JsonBlock value={r.outcome.type === "data" ? r.outcome.data : r.outcome} label={`Stored result of ${r.key}`} />
                      </details>
                    ) : (
                      <span className="muted">none yet</span>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </TableFrame>
</div>
        )}
        <LoadMore query={records} />
      </section>
    </>
  );
}

function StatsBlock({ stats }: { stats: AdminOutputs["idempotency"]["stats"] }) {
  return (
    <>
      <dl className="stats" aria-label="Idempotency counters">
        <Stat label="Hit rate" value={formatPercent(stats.hitRate)} hint={stats.window} />
        {COUNTERS.map((c) => (
          <Stat key={c.key} label={c.label} value={formatCount(stats.counters[c.key])} hint={c.help} />
        ))}
      </dl>
      <dl className="stats" aria-label="Records by state">
        <Stat label="Records" value={formatEstimate(stats.records.total, stats.records.estimated.includes("total"))} />
        <Stat label="Completed" value={formatEstimate(stats.records.completed, stats.records.estimated.includes("completed"))} />
        <Stat label="In progress" value={formatCount(stats.records.inProgress)} />
        <Stat label="Abandoned" value={formatCount(stats.records.abandoned)} hint="lease ran out" tone={stats.records.abandoned ? "warn" : undefined} />
        <Stat label="Expired" value={formatEstimate(stats.records.expired, stats.records.estimated.includes("expired"))} hint="awaiting clean-up" />
      </dl>
      {stats.byProcedure.length > 0 && (
        <TableFrame label="Idempotency by procedure">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Procedure</Table.Th>
              <Table.Th>Requests</Table.Th>
              <Table.Th>Replayed</Table.Th>
              <Table.Th>Hit rate</Table.Th>
              <Table.Th>Conflicts</Table.Th>
              <Table.Th>Mismatches</Table.Th>
              <Table.Th>Released</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {stats.byProcedure.map((p) => (
              <Table.Tr key={p.procedure}>
                <Table.Td>{p.procedure}</Table.Td>
                <Table.Td>{formatCount(p.requests)}</Table.Td>
                <Table.Td>{formatCount(p.replayed)}</Table.Td>
                <Table.Td>{formatPercent(p.hitRate)}</Table.Td>
                <Table.Td>{formatCount(p.conflicts)}</Table.Td>
                <Table.Td>{formatCount(p.mismatches)}</Table.Td>
                <Table.Td>{formatCount(p.released)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </TableFrame>
      )}
    </>
  );
}

function SearchForm({ onSearch, initialKey }: { onSearch: (s: RecordSearch) => void; initialKey?: string }) {
  const [key, setKey] = useState(initialKey ?? "");
  const [procedure, setProcedure] = useState("");
  const [state, setState] = useState<"" | "in_progress" | "completed">("");
  return (
    <form
      className="row filters"
      aria-label="Search idempotency records"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch({
          ...(key.trim() ? { key: key.trim() } : {}),
          ...(procedure.trim() ? { procedure: procedure.trim() } : {}),
          ...(state ? { state } : {}),
        });
      }}
    >
      <label>
        Idempotency key
        <input value={key} onChange={(e) => setKey(e.target.value)} placeholder="exact key" maxLength={255} />
      </label>
      <label>
        Procedure
        <input value={procedure} onChange={(e) => setProcedure(e.target.value)} placeholder="e.g. files.rename" />
      </label>
      <label>
        State
        <select value={state} onChange={(e) => setState(e.target.value as typeof state)}>
          <option value="">Any</option>
          <option value="in_progress">In progress</option>
          <option value="completed">Completed</option>
        </select>
      </label>
      <button type="submit" className="primary">
        Search
      </button>
      <button
        type="button"
        onClick={() => {
          setKey("");
          setProcedure("");
          setState("");
          onSearch({});
        }}
      >
        Clear
      </button>
    </form>
  );
}

function DeleteExpired({ expired }: { expired: number | undefined }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [result, setResult] = useState<Result>(null);
  const remove = useMutation(
    trpc.admin.idempotency.deleteExpired.mutationOptions({
      onSuccess: (r) => setResult({ kind: "ok", text: r.deleted ? `${plural(r.deleted, "expired record")} deleted.` : "No expired record to delete." }),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.idempotency.pathKey() }),
    }),
  );
  return (
    <div className="row">
      <ConfirmButton
        reason={AUDIT_REASON}
        label="Delete expired records…"
        title="Delete expired idempotency records"
        confirmLabel="Delete them"
        pendingLabel="Deleting…"
        danger
        onOpen={() => {
          setResult(null);
        }}
        onConfirm={(reason) => remove.mutateAsync({ reason: reason.trim() || undefined })}
      >
        <p>
          Delete {expired === undefined ? "the records" : plural(expired, "record")} past expiry now (the worker also does it on a schedule). A client retrying
          with one of those keys would run its mutation again.
        </p>
      </ConfirmButton>
      <ResultMessage result={result} />
    </div>
  );
}
