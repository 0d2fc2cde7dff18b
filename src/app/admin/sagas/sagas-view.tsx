"use client";

import Link from "next/link";
import { Group, TextInput } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { useLiveUpdates } from "../_components/live";
import { PAGE_SIZE, SAGA_STATUSES, type AdminOutputs } from "../_components/types";
import { DataTable, type Column } from "../_components/data-table";
import { FilterForm, StatusChecks, useDraft } from "../_components/filter-form";
import { useUrlFilter } from "../_components/use-url-filter";
import { formatDuration, formatTime, shortId, StatusBadge } from "../_components/ui";
import { sagaUrlFilter, type SagaFilter } from "./filter-params";
import { bulkRedriveHref } from "../bulk/links";

type Saga = AdminOutputs["sagas"]["list"]["items"][number];

const COLUMNS: Array<Column<Saga>> = [
  { header: "Started", cell: (s) => formatTime(s.createdAt), muted: true, nowrap: true },
  { header: "Saga", cell: (s) => s.type, href: (s) => `/admin/sagas/${s.id}`, linkLabel: (s) => `Timeline of ${s.type} saga ${s.id}` },
  { header: "Id", cell: (s) => shortId(s.id), muted: true, nowrap: true },
  { header: "Status", cell: (s) => <StatusBadge status={s.status} /> },
  { header: "Step", cell: (s) => s.currentStep + 1 },
  { header: "Took", nowrap: true, cell: (s) => (s.finishedAt ? formatDuration(s.finishedAt.getTime() - s.createdAt.getTime()) : "—") },
  { header: "Last error", cell: (s) => s.lastError ?? "", clip: (s) => s.lastError ?? undefined },
];

export function SagasView() {
  const trpc = useTRPC();
  useLiveUpdates(["sagas"]);
  const refetchInterval = useRefetchInterval();
  const { filter, setFilter, key } = useUrlFilter(sagaUrlFilter);
  const list = useInfiniteQuery({
    ...trpc.admin.sagas.list.infiniteQueryOptions({ ...filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });

  return (
    <>
      <div className="row page-head">
        <h1>Sagas</h1>
        <Link href={bulkRedriveHref(filter)}>Bulk redrive…</Link>
        <RefreshBar queries={[list]} />
      </div>
      <section className="panel">
        <SagaFilterForm key={key} initial={filter} onApply={setFilter} />
      </section>
      <section className="panel">
        <DataTable
          label="Sagas"
          what="sagas"
          query={list}
          rows={list.data?.pages.flatMap((p) => p.items)}
          columns={COLUMNS}
          rowKey={(s) => s.id}
          rowProps={(s) => ({ "data-saga-id": s.id })}
          empty={Object.keys(filter).length ? "No saga matches these filters." : "No saga has run yet."}
        />
      </section>
    </>
  );
}

function SagaFilterForm({ initial, onApply }: { initial: SagaFilter; onApply: (f: SagaFilter) => void }) {
  const { draft, set, text, reset } = useDraft(initial);
  return (
    <FilterForm
      label="Filter sagas"
      onApply={() => onApply(draft)}
      onClear={() => {
        reset();
        onApply({});
      }}
    >
      <StatusChecks statuses={SAGA_STATUSES} value={draft.status} onChange={(v) => set("status", v)} />
      <Group gap="sm" align="flex-end">
        <TextInput label="Saga type" list="saga-types" placeholder="e.g. file.upload" maxLength={100} {...text("type")} />
        <datalist id="saga-types">
          <option value="file.upload" />
        </datalist>
        <TextInput label="Correlation id" maxLength={200} {...text("correlationId")} />
        <TextInput label="Error contains" maxLength={200} {...text("error")} />
      </Group>
    </FilterForm>
  );
}
