"use client";

import { Group, Select, TextInput } from "@mantine/core";
import Link from "next/link";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { traceHref } from "../trace/trace-links";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { useLiveUpdates } from "../_components/live";
import { RECORDS_PAGE, type AdminOutputs } from "../_components/types";
import { AUDIT_REASON } from "../_components/audit-reason";
import { DataTable, type Column } from "../_components/data-table";
import { FilterForm, useDraft } from "../_components/filter-form";
import { useUrlFilter } from "../_components/use-url-filter";
import { ConfirmButton, formatCount, formatEstimate, formatPercent, formatTime, JsonBlock, plural, QueryError, ResultMessage, shortId, Stat, StatusBadge, type Result } from "../_components/ui";
import { idempotencyUrlFilter, RECORD_STATES, recordsSearch, statsInput, type IdempotencyFilter } from "./filter-params";

type IdempotencyRecord = AdminOutputs["idempotency"]["records"]["items"][number];
type ProcedureStats = AdminOutputs["idempotency"]["stats"]["byProcedure"][number];

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
  { label: "All time", value: "" },
  { label: "Last hour", value: "1" },
  { label: "Last 24 hours", value: "24" },
  { label: "Last 7 days", value: "168" },
];

const RECORD_COLUMNS: Array<Column<IdempotencyRecord>> = [
  { header: "Created", cell: (r) => formatTime(r.createdAt), muted: true, nowrap: true },
  {
    header: "Key",
    cell: (r) => (
      <>
        <code className="key">{r.key}</code> <Link href={traceHref("idempotency", r.id)}>trace</Link>
      </>
    ),
  },
  { header: "Procedure", cell: (r) => r.procedure },
  { header: "User", muted: true, cell: (r) => <span title={r.userId}>{r.userId === "anon" ? "anonymous" : shortId(r.userId)}</span> },
  {
    header: "State",
    cell: (r) => (
      <>
        <StatusBadge status={r.state} />
        {r.state === "in_progress" && r.leaseUntil && <div className="muted small">lease until {formatTime(r.leaseUntil)}</div>}
      </>
    ),
  },
  { header: "Status", cell: (r) => r.responseStatus ?? "—" },
  { header: "Expires", cell: (r) => formatTime(r.expiresAt), muted: true, nowrap: true },
  {
    header: "Stored result",
    cell: (r) =>
      r.outcome ? (
        <details>
          <summary>{r.outcome.type === "data" ? "data" : `error ${r.outcome.code}`}</summary>
          <JsonBlock value={r.outcome.type === "data" ? r.outcome.data : r.outcome} label={`Stored result of ${r.key}`} />
        </details>
      ) : (
        <span className="muted">none yet</span>
      ),
  },
];

const PROCEDURE_COLUMNS: Array<Column<ProcedureStats>> = [
  { header: "Procedure", cell: (p) => p.procedure },
  { header: "Requests", cell: (p) => formatCount(p.requests) },
  { header: "Replayed", cell: (p) => formatCount(p.replayed) },
  { header: "Hit rate", cell: (p) => formatPercent(p.hitRate) },
  { header: "Conflicts", cell: (p) => formatCount(p.conflicts) },
  { header: "Mismatches", cell: (p) => formatCount(p.mismatches) },
  { header: "Released", cell: (p) => formatCount(p.released) },
];

export function IdempotencyView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  useLiveUpdates(["idempotency"]);
  const refetchInterval = useRefetchInterval();
  const { filter, setFilter, key } = useUrlFilter(idempotencyUrlFilter);
  const search = recordsSearch(filter);
  const stats = useQuery({ ...trpc.admin.idempotency.stats.queryOptions(statsInput(filter)), refetchInterval });
  const records = useInfiniteQuery({
    ...trpc.admin.idempotency.records.infiniteQueryOptions({ ...search, limit: RECORDS_PAGE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });

  return (
    <>
      <div className="row page-head">
        <h1>Idempotency</h1>
        <RefreshBar queries={[stats, records]} />
      </div>
      <section className="panel" aria-labelledby="idem-stats">
        <div className="row panel-head">
          <h2 id="idem-stats">Counters</h2>
          <Select
            label="Window"
            data={WINDOWS}
            value={filter.hours === undefined ? "" : String(filter.hours)}
            onChange={(v) => setFilter({ ...filter, hours: v ? Number(v) : undefined })}
            allowDeselect={false}
            w={180}
          />
        </div>
        {stats.isError && <QueryError what="idempotency stats" error={stats.error} onRetry={stats.refetch} />}
        {stats.isPending ? <p className="muted">Loading counters…</p> : stats.data && <StatsBlock stats={stats.data} />}
        {canAct && <DeleteExpired expired={stats.data?.records.expired} />}
      </section>

      <section className="panel" aria-labelledby="idem-records">
        <h2 id="idem-records">Records</h2>
        <RecordSearchForm key={key} initial={filter} onSearch={setFilter} />
        <DataTable
          label="Idempotency records"
          what="idempotency records"
          query={records}
          rows={records.data?.pages.flatMap((p) => p.items)}
          columns={RECORD_COLUMNS}
          rowKey={(r) => r.id}
          empty={search.key ? `No record has the key “${search.key}” (it may have expired and been cleaned up).` : "No record matches."}
        />
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
        <DataTable label="Idempotency by procedure" what="procedures" rows={stats.byProcedure} columns={PROCEDURE_COLUMNS} rowKey={(p) => p.procedure} empty={null} />
      )}
    </>
  );
}

/** The records search; the counters' window is kept as it is. */
function RecordSearchForm({ initial, onSearch }: { initial: IdempotencyFilter; onSearch: (f: IdempotencyFilter) => void }) {
  const { draft, set, text, reset } = useDraft(initial);
  return (
    <FilterForm
      label="Search idempotency records"
      applyLabel="Search"
      onApply={() => onSearch(draft)}
      onClear={() => {
        reset();
        onSearch({ hours: initial.hours });
      }}
    >
      <Group gap="sm" align="flex-end">
        <TextInput label="Idempotency key" placeholder="exact key" maxLength={255} {...text("key")} />
        <TextInput label="Procedure" placeholder="e.g. files.rename" maxLength={200} {...text("procedure")} />
        <Select
          label="State"
          data={[{ value: "", label: "Any" }, ...RECORD_STATES.map((s) => ({ value: s, label: s === "in_progress" ? "In progress" : "Completed" }))]}
          value={draft.state ?? ""}
          onChange={(v) => set("state", (v || undefined) as IdempotencyFilter["state"])}
          allowDeselect={false}
        />
      </Group>
    </FilterForm>
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
