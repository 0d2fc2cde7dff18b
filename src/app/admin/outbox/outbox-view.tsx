"use client";

import { Group, Text, TextInput } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { useLiveUpdates } from "../_components/live";
import { OUTBOX_STATUSES, PAGE_SIZE, type AdminOutputs, type OutboxFilter } from "../_components/types";
import { AUDIT_REASON } from "../_components/audit-reason";
import { DataTable, type Column } from "../_components/data-table";
import { FilterForm, StatusChecks, useDraft } from "../_components/filter-form";
import { useUrlFilter } from "../_components/use-url-filter";
import { ConfirmButton, formatTime, plural, ResultMessage, shortId, StatusBadge, type Result } from "../_components/ui";
import { EventActions } from "./event-actions";
import { describeFilter, KNOWN_EVENT_TYPES, outboxUrlFilter } from "./filter-params";

type OutboxEvent = AdminOutputs["outbox"]["list"]["items"][number];

function columns(canAct: boolean, onResult: (r: Result) => void): Array<Column<OutboxEvent>> {
  return [
    { header: "Created", cell: (e) => formatTime(e.createdAt), muted: true, nowrap: true },
    { header: "Type", cell: (e) => e.eventType, href: (e) => `/admin/outbox/${e.id}`, linkLabel: (e) => `Event ${e.eventType} ${e.id}` },
    {
      header: "Aggregate",
      nowrap: true,
      cell: (e) => (
        <>
          {e.aggregateType}:{shortId(e.aggregateId)}{" "}
          <Text span c="dimmed" size="sm">
            #{e.aggregateSeq}
          </Text>
        </>
      ),
    },
    { header: "Status", cell: (e) => <StatusBadge status={e.status} /> },
    { header: "Attempts", cell: (e) => `${e.attempts}/${e.maxAttempts}` },
    {
      header: "Published / next attempt",
      muted: true,
      nowrap: true,
      cell: (e) => (e.publishedAt ? formatTime(e.publishedAt) : e.status === "pending" || e.status === "failed" ? `next ${formatTime(e.nextAttemptAt)}` : "—"),
    },
    { header: "Last error", cell: (e) => e.lastError ?? "", clip: (e) => e.lastError ?? undefined },
    {
      header: "",
      label: "Actions",
      cell: (e) => (canAct ? <EventActions event={e} onResult={onResult} /> : <Link href={`/admin/outbox/${e.id}`}>Details</Link>),
    },
  ];
}

export function OutboxView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  useLiveUpdates(["outbox"]);
  const refetchInterval = useRefetchInterval();
  const { filter, setFilter, key } = useUrlFilter(outboxUrlFilter);
  const [result, setResult] = useState<Result>(null);
  const list = useInfiniteQuery({
    ...trpc.admin.outbox.list.infiniteQueryOptions({ filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });
  const filtered = Object.keys(filter).length > 0;

  return (
    <>
      <div className="row page-head">
        <h1>Outbox</h1>
        <RefreshBar queries={[list]} />
      </div>
      <section className="panel">
        <OutboxFilterForm
          key={key}
          initial={filter}
          onApply={(f) => {
            setResult(null);
            setFilter(f);
          }}
        />
        {canAct && <RetryMatching filter={filter} onResult={setResult} />}
        <ResultMessage result={result} />
      </section>
      <section className="panel">
        <DataTable
          label="Outbox events"
          what="outbox events"
          query={list}
          rows={list.data?.pages.flatMap((p) => p.items)}
          columns={columns(canAct, setResult)}
          rowKey={(e) => e.id}
          rowProps={(e) => ({ "data-event-id": e.id })}
          empty={filtered ? `No event matches ${describeFilter(filter)}.` : "The outbox is empty: no event has been written yet."}
        />
      </section>
    </>
  );
}

function OutboxFilterForm({ initial, onApply }: { initial: OutboxFilter; onApply: (f: OutboxFilter) => void }) {
  const { draft, set, text, reset } = useDraft(initial);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <FilterForm
      label="Filter outbox events"
      problem={problem}
      onApply={() => {
        if (draft.aggregateId?.trim() && !draft.aggregateType?.trim()) return setProblem("Give the aggregate type with the aggregate id (e.g. file).");
        setProblem(null);
        onApply(draft);
      }}
      onClear={() => {
        reset();
        setProblem(null);
        onApply({});
      }}
    >
      <StatusChecks statuses={OUTBOX_STATUSES} value={draft.status} onChange={(v) => set("status", v)} />
      <Group gap="sm" align="flex-end">
        {/* A native suggestion list: Mantine's Autocomplete labels its listbox too, so the label would name two elements. */}
        <TextInput label="Event type" list="outbox-event-types" placeholder="e.g. file.uploaded" maxLength={100} {...text("type")} />
        <datalist id="outbox-event-types">
          {KNOWN_EVENT_TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <TextInput label="Aggregate type" placeholder="e.g. file" maxLength={100} {...text("aggregateType")} />
        <TextInput label="Aggregate id" placeholder="exact id" maxLength={200} {...text("aggregateId")} />
        <TextInput label="Error contains" placeholder="text in the last error" maxLength={200} {...text("errorContains")} />
      </Group>
    </FilterForm>
  );
}

function RetryMatching({ filter, onResult }: { filter: OutboxFilter; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const retry = useMutation(
    trpc.admin.outbox.retryMatching.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.pathKey() }) }),
  );
  return (
    <Group gap="sm" className="retry-matching" mt="sm">
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
      <Text span c="dimmed" size="sm">
        Applies to the filter above: {describeFilter(filter)}
      </Text>
    </Group>
  );
}
