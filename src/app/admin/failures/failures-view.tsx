"use client";

import { Group, SegmentedControl, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { AUDIT_REASON } from "../_components/audit-reason";
import { DataTable, type Column } from "../_components/data-table";
import { useLiveUpdates } from "../_components/live";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import type { AdminOutputs } from "../_components/types";
import { useUrlFilter } from "../_components/use-url-filter";
import { ConfirmButton, formatCount, formatTime, plural, ResultMessage, shortId, type Result } from "../_components/ui";
import { FAILURE_SOURCES, failuresUrlFilter, groupsInput } from "./filter-params";

type FailureGroup = AdminOutputs["failures"]["groups"][number];

function columns(canAct: boolean, onResult: (r: Result) => void): Array<Column<FailureGroup>> {
  return [
    { header: "Where", cell: (g) => (g.source === "outbox" ? "outbox" : "sagas") },
    {
      header: "Error",
      cell: (g) => (
        <>
          <strong>{g.errorClass}</strong>: {g.message || "(no message)"}
          {g.frame && (
            <div>
              at <code>{g.frame}</code>
            </div>
          )}
        </>
      ),
    },
    {
      header: "Count",
      cell: (g) => (
        <>
          {formatCount(g.count)}
          <Text size="xs" c="dimmed">
            {Object.entries(g.byStatus)
              .map(([status, n]) => `${formatCount(n)} ${status}`)
              .join(", ")}
          </Text>
        </>
      ),
    },
    { header: "First seen", cell: (g) => formatTime(g.firstSeen), nowrap: true },
    { header: "Last seen", cell: (g) => formatTime(g.lastSeen), nowrap: true },
    { header: "Types", cell: (g) => g.types.join(", ") },
    {
      header: "Sample",
      cell: (g) =>
        g.source === "outbox" ? (
          <>
            <Link href={`/admin/outbox/${g.sample.id}`}>event {shortId(g.sample.id)}</Link>
            {" · "}
            <Link href={`/admin/outbox?fingerprint=${g.fingerprint}`}>all {formatCount(g.count)}</Link>
          </>
        ) : (
          <Link href={`/admin/sagas/${g.sample.id}`}>saga {shortId(g.sample.id)}</Link>
        ),
    },
    { header: "Actions", show: canAct, cell: (g) => <GroupActions group={g} onResult={onResult} /> },
  ];
}

/** Failures grouped by cause (error fingerprint): one row per cause, with a retry or discard for all of it. */
export function FailuresView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  // A change to any group (a new failure, a retry) arrives through the live stream; polled while it is down.
  useLiveUpdates(["failures"]);
  const refetchInterval = useRefetchInterval();
  const { filter, setFilter } = useUrlFilter(failuresUrlFilter);
  const groups = useQuery({ ...trpc.admin.failures.groups.queryOptions(groupsInput(filter)), refetchInterval });
  const [result, setResult] = useState<Result>(null);
  return (
    <>
      <h1>Failure groups</h1>
      <RefreshBar queries={[groups]} />
      <p>
        Failed and dead events and failed sagas, grouped by their error: the class, the message with ids and numbers taken out, and the first frame of our
        own code. Fix the cause, then retry the whole group.
      </p>
      <SegmentedControl
        aria-label="Show failures of"
        data={[{ value: "", label: "All" }, ...FAILURE_SOURCES]}
        value={filter.source ?? ""}
        onChange={(v) => setFilter(v ? { source: v as NonNullable<typeof filter.source> } : {})}
        mb="sm"
      />
      {filter.fingerprint && (
        <Text size="sm" mb="sm">
          Showing one failure group. <Link href={filter.source ? `/admin/failures?source=${filter.source}` : "/admin/failures"}>Show every group</Link>
        </Text>
      )}
      <ResultMessage result={result} />
      <DataTable
        label="Failure groups"
        what="failure groups"
        query={groups}
        rows={groups.data?.filter((g) => !filter.fingerprint || g.fingerprint === filter.fingerprint)}
        columns={columns(canAct, setResult)}
        rowKey={(g) => `${g.source}:${g.fingerprint}`}
        rowProps={(g) => ({ "aria-label": `Failure group ${g.errorClass}: ${g.message}` })}
        empty={filter.source ? `No ${filter.source === "outbox" ? "failed or dead event" : "failed saga"}.` : "No failures: no failed or dead event and no failed saga."}
        minWidth={960}
      />
    </>
  );
}

function GroupActions({ group, onResult }: { group: FailureGroup; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.pathKey() });
  const retry = useMutation(trpc.admin.failures.retryGroup.mutationOptions({ onSettled: refresh }));
  const discard = useMutation(trpc.admin.failures.discardGroup.mutationOptions({ onSettled: refresh }));
  const what = `${group.errorClass}: ${group.message}`;
  const input = { source: group.source, fingerprint: group.fingerprint };
  return (
    <Group gap={6} wrap="nowrap">
      <ConfirmButton
        reason={AUDIT_REASON}
        label="Retry group…"
        title={`Retry failure group ${group.errorClass}`}
        confirmLabel={`Retry ${plural(group.count, group.source === "outbox" ? "event" : "saga")}`}
        pendingLabel="Retrying…"
        onOpen={() => {
          onResult(null);
        }}
        onConfirm={async (reason) => {
          const r = await retry.mutateAsync({ ...input, reason: reason.trim() || undefined });
          onResult({ kind: "ok", text: `Group retried: ${plural(r.affected, group.source === "outbox" ? "event" : "saga")} ${group.source === "outbox" ? "queued again" : "redriven"}${r.skipped ? `, ${formatCount(r.skipped)} skipped (changed meanwhile)` : ""}.` });
        }}
      >
        <p>
          {group.source === "outbox"
            ? `Every failed or dead event of this group (${formatCount(group.count)} now) goes back to pending with a fresh set of attempts.`
            : `Every saga of this group (${formatCount(group.count)} now) is redriven from its first step not in effect.`}
        </p>
        <p>
          <code>{what}</code>
        </p>
      </ConfirmButton>
      {group.source === "outbox" && (
        <ConfirmButton
          reason={AUDIT_REASON}
          label="Discard group…"
          title={`Discard failure group ${group.errorClass}`}
          confirmLabel={`Discard ${plural(group.count, "event")}`}
          pendingLabel="Discarding…"
          danger
          onOpen={() => {
            onResult(null);
          }}
          onConfirm={async (reason) => {
            const r = await discard.mutateAsync({ ...input, reason: reason.trim() || undefined });
            onResult({ kind: "ok", text: `Group discarded: ${plural(r.affected, "event")}.` });
          }}
        >
          <p>
            Every failed or dead event of this group ({formatCount(group.count)} now) is discarded: never published, and no longer blocking its aggregate.
            This cannot be undone.
          </p>
          <p>
            <code>{what}</code>
          </p>
        </ConfirmButton>
      )}
    </Group>
  );
}
