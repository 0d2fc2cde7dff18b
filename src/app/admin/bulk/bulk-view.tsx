"use client";

import { Button, Group, SegmentedControl, Stack, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { AUDIT_REASON } from "../_components/audit-reason";
import { HydratedForm } from "../_components/hydrated-form";
import type { AdminOutputs } from "../_components/types";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { ConfirmButton, formatCount, formatPercent, formatTime, plural, QueryError, ResultMessage, shortId, StatusBadge, type Result } from "../_components/ui";
import { actionMeta, OUTBOX_ACTIONS, type BulkTarget, type Operation, type OutboxActionStatus, type OutboxPlanned, type Planned, type SagaBulkFilter } from "./actions";
import { SagaFilterForm } from "./saga-filter-form";
import { ActionAndStatuses, CreatedRange, FailureFields } from "./bulk-form-fields";

type BulkAction = OutboxPlanned["action"];
type BulkFilter = NonNullable<OutboxPlanned["filter"]>;

/** Required in the dialog of an action that undoes work (a bulk abort): recorded on each saga too. */
const REQUIRED_REASON = { label: "Reason (required, kept in the audit log and on every saga)", minLength: 3, maxLength: 500, placeholder: "why are you doing this?" };

/** Bulk actions by filter: dry run (count + sample) → confirm → a job in the worker with progress → summary. */
export function BulkView({ canAct, initialTarget = "outbox", initialSagaFilter = {} }: { canAct: boolean; initialTarget?: BulkTarget; initialSagaFilter?: SagaBulkFilter }) {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const [target, setTarget] = useState<BulkTarget>(initialTarget);
  const [planned, setPlanned] = useState<Planned | null>(null);
  const [following, setFollowing] = useState<string | null>(null);
  const list = useQuery({ ...trpc.admin.bulk.list.queryOptions({}), refetchInterval });
  return (
    <>
      <h1>Bulk actions</h1>
      <RefreshBar queries={[list]} />
      <p>
        Retry or discard every outbox event, or redrive, abort or resume every saga, matching a filter. The dry run shows what it would touch; the action then runs
        in the worker, in batches, and can be cancelled. Every batch is in the audit log.
      </p>
      <section aria-labelledby="bulk-filter">
        <h2 id="bulk-filter">Filter</h2>
        <SegmentedControl
          aria-label="Act on"
          value={target}
          onChange={(value) => {
            setTarget(value as BulkTarget);
            setPlanned(null);
          }}
          data={[
            { label: "Outbox", value: "outbox" },
            { label: "Sagas", value: "saga" },
          ]}
        />
        {target === "outbox" ? <FilterForm onDryRun={setPlanned} /> : <SagaFilterForm initial={initialSagaFilter} onDryRun={setPlanned} />}
      </section>
      {planned && <DryRun key={JSON.stringify(planned)} planned={planned} canAct={canAct} onStarted={setFollowing} />}
      {following && <OperationProgress id={following} canAct={canAct} />}
      <section aria-labelledby="bulk-list">
        <h2 id="bulk-list">Operations</h2>
        {list.isError && <QueryError what="bulk operations" error={list.error} onRetry={list.refetch} />}
        {list.data && list.data.items.length === 0 ? (
          <p>No bulk operation yet.</p>
        ) : (
          <table aria-label="Bulk operations">
            <thead>
              <tr>
                <th>Started</th>
                <th>Action</th>
                <th>By</th>
                <th>Status</th>
                <th>Dry run</th>
                <th>Affected</th>
                <th>Reason</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data?.items.map((op) => (
                <tr key={op.id}>
                  <td>{formatTime(op.createdAt)}</td>
                  <td>
                    <code>{op.action}</code>
                  </td>
                  <td>{op.actorEmail}</td>
                  <td>
                    <StatusBadge status={op.status} />
                  </td>
                  <td>{formatCount(op.dryRunCount)}</td>
                  <td>{formatCount(op.affected)}</td>
                  <td>{op.reason ?? "—"}</td>
                  <td>
                    <button type="button" onClick={() => setFollowing(op.id)} aria-label={`Show operation ${op.id}`}>
                      Show
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** A JSON value typed in a box: JSON when it parses (3, true, "x"), else the text itself. */
function parseValue(text: string): string | number | boolean | null {
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) return v as string | number | boolean | null;
  } catch {
    // not JSON: the text as a string
  }
  return text;
}

function FilterForm({ onDryRun }: { onDryRun: (p: OutboxPlanned) => void }) {
  const [action, setAction] = useState<BulkAction>("outbox.retry");
  const [statuses, setStatuses] = useState<OutboxActionStatus[]>([]);
  const [form, setForm] = useState({ type: "", aggregateType: "", aggregateId: "", errorContains: "", fingerprint: "", path: "", value: "", from: "", to: "" });
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onChange: (e: { currentTarget: { value: string } }) => {
      const value = e.currentTarget.value;
      setForm((f) => ({ ...f, [key]: value }));
    },
  });
  const allowed = OUTBOX_ACTIONS[action].statuses;
  return (
    <HydratedForm
      aria-label="Bulk action filter"
      onSubmit={(e) => {
        e.preventDefault();
        const t = (k: keyof typeof form) => form[k].trim() || undefined;
        const chosen = statuses.filter((s) => allowed.includes(s));
        const filter: BulkFilter = {
          ...(chosen.length ? { status: chosen } : {}),
          ...(t("type") ? { type: t("type") } : {}),
          ...(t("aggregateType") ? { aggregateType: t("aggregateType") } : {}),
          ...(t("aggregateId") ? { aggregateId: t("aggregateId") } : {}),
          ...(t("errorContains") ? { errorContains: t("errorContains") } : {}),
          ...(t("fingerprint") ? { fingerprint: t("fingerprint") } : {}),
          ...(t("path") ? { payload: { path: t("path")!, value: parseValue(form.value) } } : {}),
          ...(form.from ? { from: new Date(form.from) } : {}),
          ...(form.to ? { to: new Date(form.to) } : {}),
        };
        onDryRun({ target: "outbox", action, filter });
      }}
    >
      <Stack gap="sm">
        <ActionAndStatuses actions={OUTBOX_ACTIONS} action={action} onAction={setAction} allowed={allowed} statuses={statuses} onStatuses={setStatuses} />
        <Group gap="sm" align="flex-end">
          <TextInput label="Event type" placeholder="e.g. file.tagged" maxLength={100} {...field("type")} />
          <TextInput label="Aggregate type" placeholder="e.g. file" maxLength={100} {...field("aggregateType")} />
          <TextInput label="Aggregate id" maxLength={200} {...field("aggregateId")} />
        </Group>
        <FailureFields error={field("errorContains")} fingerprint={field("fingerprint")} />
        <Group gap="sm" align="flex-end">
          <TextInput label="Payload path" placeholder="e.g. ownerId or meta.source" maxLength={200} {...field("path")} />
          <TextInput label="Payload value" placeholder='e.g. "abc", 3 or true' maxLength={500} {...field("value")} />
        </Group>
        <CreatedRange from={field("from")} to={field("to")} />
        <Group>
          <Button type="submit">Dry run</Button>
        </Group>
      </Stack>
    </HydratedForm>
  );
}

function DryRun({ planned, canAct, onStarted }: { planned: Planned; canAct: boolean; onStarted: (id: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const dry = useQuery(trpc.admin.bulk.dryRun.queryOptions(planned));
  const start = useMutation(trpc.admin.bulk.start.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.bulk.pathKey() }) }));
  const [result, setResult] = useState<Result>(null);
  const meta = actionMeta(planned.action);
  return (
    <section aria-labelledby="bulk-dry-run">
      <h2 id="bulk-dry-run">Dry run</h2>
      {dry.isError && <QueryError what="the dry run" error={dry.error} onRetry={dry.refetch} />}
      {dry.isPending ? (
        <p>Counting…</p>
      ) : (
        dry.data && (
          <>
            <p role="status" aria-label="Dry run result">
              {dry.data.capped ? "More than " : ""}
              {plural(dry.data.count, meta.noun)} would be {meta.verb}.
            </p>
            <DryRunSample data={dry.data} />
            {canAct && dry.data.count > 0 && (
              <ConfirmButton
                reason={meta.reasonRequired ? REQUIRED_REASON : AUDIT_REASON}
                label={`${meta.label.split(" ")[0]} ${plural(dry.data.count, meta.noun)}…`}
                title={`${meta.label} by filter`}
                confirmLabel="Start"
                pendingLabel="Starting…"
                danger={meta.danger}
                onOpen={() => {
                  setResult(null);
                }}
                onConfirm={async (reason) => {
                  const op = await start.mutateAsync({ ...planned, dryRunCount: dry.data.count, reason: reason.trim() || undefined });
                  onStarted(op.id);
                  setResult({ kind: "ok", text: `Bulk operation ${shortId(op.id)} started.` });
                }}
              >
                <p>
                  {plural(dry.data.count, meta.noun)} matched the dry run; they will be {meta.verb} by the worker in batches. {meta.noun === "saga" ? "Sagas" : "Events"} that
                  change state meanwhile are skipped; {meta.noun}s created after you start are left alone.
                </p>
              </ConfirmButton>
            )}
            <ResultMessage result={result} />
          </>
        )
      )}
    </section>
  );
}

/** The dry run's sample rows: events or sagas, each linked to its page. */
function DryRunSample({ data }: { data: AdminOutputs["bulk"]["dryRun"] }) {
  if (data.sample.length === 0) return null;
  if (data.target === "saga") {
    return (
      <table aria-label="Dry run sample">
        <thead>
          <tr>
            <th>Saga</th>
            <th>Type</th>
            <th>Status</th>
            <th>Step</th>
            <th>Error</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {data.sample.map((s) => (
            <tr key={s.id}>
              <td>
                <a href={`/admin/sagas/${s.id}`}>{shortId(s.id)}</a>
              </td>
              <td>{s.type}</td>
              <td>
                <StatusBadge status={s.status} />
              </td>
              <td>{s.currentStep + 1}</td>
              <td>{s.lastError ?? "—"}</td>
              <td>{formatTime(s.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  return (
    <table aria-label="Dry run sample">
      <thead>
        <tr>
          <th>Event</th>
          <th>Type</th>
          <th>Aggregate</th>
          <th>Status</th>
          <th>Error</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {data.sample.map((e) => (
          <tr key={e.id}>
            <td>
              <a href={`/admin/outbox/${e.id}`}>{shortId(e.id)}</a>
            </td>
            <td>{e.eventType}</td>
            <td>
              {e.aggregateType}:{shortId(e.aggregateId)}
            </td>
            <td>
              <StatusBadge status={e.status} />
            </td>
            <td>{e.lastError ?? "—"}</td>
            <td>{formatTime(e.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function summary(op: Operation) {
  const { verb, noun } = actionMeta(op.action);
  if (op.status === "completed") return `Completed: ${plural(op.affected, noun)} ${verb} (dry run: ${formatCount(op.dryRunCount)}; ${formatCount(op.examined - op.affected)} skipped) in ${plural(op.batches, "batch", "batches")}.`;
  if (op.status === "cancelled") return `Cancelled: ${plural(op.affected, noun)} ${verb} before it stopped (dry run: ${formatCount(op.dryRunCount)}).`;
  if (op.status === "failed") return `Failed: ${op.error ?? "unknown error"} (${plural(op.affected, noun)} ${verb} before).`;
  return null;
}

function OperationProgress({ id, canAct }: { id: string; canAct: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const op = useQuery({ ...trpc.admin.bulk.get.queryOptions({ id }), refetchInterval: (q) => (q.state.data?.finished ? false : 1_000) });
  const cancel = useMutation(trpc.admin.bulk.cancel.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.bulk.pathKey() }) }));
  const finished = op.data?.finished ?? false;
  // The operations list below shows the final counts as soon as this one ends, not at its next refresh.
  useEffect(() => {
    if (finished) void queryClient.invalidateQueries({ queryKey: trpc.admin.bulk.list.queryKey() });
  }, [finished, queryClient, trpc]);
  return (
    <section aria-labelledby="bulk-progress">
      <h2 id="bulk-progress">Operation {shortId(id)}</h2>
      {op.isError && <QueryError what="the operation" error={op.error} onRetry={op.refetch} />}
      {op.data && (
        <>
          <p>
            <StatusBadge status={op.data.status} /> {op.data.action} by {op.data.actorEmail}, started {formatTime(op.data.createdAt)}
          </p>
          <progress aria-label="Bulk operation progress" value={op.data.progress} max={1}>
            {formatPercent(op.data.progress)}
          </progress>
          <p role="status" aria-label="Bulk operation counts">
            {formatPercent(op.data.progress)}: examined {formatCount(op.data.examined)} of {formatCount(op.data.dryRunCount)}, affected {formatCount(op.data.affected)},{" "}
            {plural(op.data.batches, "batch", "batches")}
          </p>
          {summary(op.data) && (
            <p role="status" aria-label="Bulk operation summary">
              {summary(op.data)}
            </p>
          )}
          {canAct && !op.data.finished && !op.data.cancelRequested && (
            <ConfirmButton
              reason={AUDIT_REASON}
              label="Cancel…"
              title="Cancel this bulk operation"
              confirmLabel="Cancel operation"
              pendingLabel="Cancelling…"
              danger
              onConfirm={(reason) => cancel.mutateAsync({ id, reason: reason.trim() || undefined })}
            >
              <p>The batch in flight finishes; no further batch starts. What was done stays done.</p>
            </ConfirmButton>
          )}
          {op.data.cancelRequested && !op.data.finished && <p>Cancelling at the next batch boundary…</p>}
        </>
      )}
    </section>
  );
}
