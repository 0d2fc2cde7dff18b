"use client";

import { Group, TextInput } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { PAGE_SIZE, type AdminOutputs } from "../_components/types";
import { DataTable, type Column } from "../_components/data-table";
import { FilterForm, useDraft } from "../_components/filter-form";
import { useUrlFilter } from "../_components/use-url-filter";
import { formatCount, formatTime, JsonBlock, shortId, StatusBadge } from "../_components/ui";
import { auditUrlFilter, type AuditSearch } from "./search-params";

type AuditRow = AdminOutputs["audit"]["search"]["items"][number];

const count = (n: number | null) => (n === null ? "—" : formatCount(n));

const COLUMNS: Array<Column<AuditRow>> = [
  { header: "When", cell: (r) => formatTime(r.at), nowrap: true },
  { header: "Who", cell: (r) => <span title={r.actorId ?? undefined}>{r.actorEmail}</span> },
  { header: "Action", cell: (r) => <code>{r.action}</code> },
  {
    header: "Target",
    cell: (r) => (
      <>
        {r.targetKind}
        {r.targetIds.length > 0 && (
          <details>
            <summary>{r.targetIds.length === 1 ? shortId(r.targetIds[0]!) : `${formatCount(r.targetIds.length)} ids`}</summary>
            <JsonBlock value={r.targetIds} label={`Targets of audit row ${r.id}`} />
          </details>
        )}
        {r.filter !== null && (
          <details>
            <summary>filter</summary>
            <JsonBlock value={r.filter} label={`Filter of audit row ${r.id}`} />
          </details>
        )}
      </>
    ),
  },
  { header: "Dry run", cell: (r) => count(r.dryRunCount) },
  { header: "Affected", cell: (r) => count(r.affectedCount) },
  { header: "Reason", cell: (r) => r.reason ?? "—" },
  { header: "Outcome", cell: (r) => <StatusBadge status={r.outcome} /> },
  { header: "Correlation", cell: (r) => (r.correlationId ? <code title={r.correlationId}>{shortId(r.correlationId)}</code> : "—") },
];

/** The audit log: who did what, to which ids or by which filter, how many, why, when. Read-only. */
export function AuditView() {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const { filter: search, setFilter, key } = useUrlFilter(auditUrlFilter);
  const rows = useInfiniteQuery({
    ...trpc.admin.audit.search.infiniteQueryOptions({ ...search, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });

  return (
    <>
      <h1>Audit log</h1>
      <RefreshBar queries={[rows]} />
      <p>Every operator action, written in the same transaction as the action. Nobody can change or delete these rows.</p>
      <section aria-labelledby="audit-search">
        <h2 id="audit-search">Search</h2>
        <AuditSearchForm key={key} initial={search} onSearch={setFilter} />
      </section>
      <section aria-labelledby="audit-rows">
        <h2 id="audit-rows">Actions</h2>
        <DataTable
          label="Audit log"
          what="the audit log"
          query={rows}
          rows={rows.data?.pages.flatMap((p) => p.items)}
          columns={COLUMNS}
          rowKey={(r) => r.id}
          empty="No operator action matches this search."
          minWidth={960}
        />
      </section>
    </>
  );
}

/** A date as the value of a datetime-local input (the browser's local time), and back. */
const toLocalInput = (d: Date | undefined) => (d ? new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : "");
const fromLocalInput = (v: string) => (v ? new Date(v) : undefined);

function AuditSearchForm({ initial, onSearch }: { initial: AuditSearch; onSearch: (s: AuditSearch) => void }) {
  const { draft, set, text, reset } = useDraft(initial);
  return (
    <FilterForm
      label="Search the audit log"
      applyLabel="Search"
      onApply={() => onSearch(draft)}
      onClear={() => {
        reset();
        onSearch({});
      }}
    >
      <Group gap="sm" align="flex-end">
        <TextInput label="Actor (email or user id)" maxLength={320} {...text("actor")} />
        <TextInput label="Action" placeholder="e.g. outbox.retry" maxLength={100} {...text("action")} />
        <TextInput label="Target id" maxLength={200} {...text("targetId")} />
        <TextInput label="Text (reason, action, correlation)" maxLength={200} {...text("text")} />
        <TextInput type="datetime-local" label="From" value={toLocalInput(draft.from)} onChange={(e) => set("from", fromLocalInput(e.currentTarget.value))} />
        <TextInput type="datetime-local" label="To" value={toLocalInput(draft.to)} onChange={(e) => set("to", fromLocalInput(e.currentTarget.value))} />
      </Group>
    </FilterForm>
  );
}
