"use client";

import { Table } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../../_components/refresh";
import { useLiveUpdates } from "../../_components/live";
import type { AdminOutputs } from "../../_components/types";
import { traceHref } from "../../trace/trace-links";
import { ConfirmButton, errorText, formatDuration, formatTime, JsonBlock, plural, QueryError, ResultMessage, StatusBadge, type Result, TableFrame } from "../../_components/ui";

import { ForkSaga } from "./fork-saga";
import { StepAttempts } from "./step-attempts";

type Timeline = AdminOutputs["sagas"]["timeline"];

export function SagaTimeline({ id, canAct }: { id: string; canAct: boolean }) {
  const trpc = useTRPC();
  useLiveUpdates(["sagas"]);
  const refetchInterval = useRefetchInterval();
  const [result, setResult] = useState<Result>(null);
  const timeline = useQuery({ ...trpc.admin.sagas.timeline.queryOptions({ id }), refetchInterval });
  const saga = timeline.data;

  return (
    <>
      <p>
        <Link href="/admin/sagas">← Sagas</Link>
      </p>
      <div className="row page-head">
        <h1>{saga ? `Saga ${saga.type}` : "Saga"}</h1>
        <RefreshBar queries={[timeline]} />
      </div>
      {timeline.isError && <QueryError what="the saga" error={timeline.error} onRetry={timeline.refetch} />}
      {timeline.isPending && <p className="muted">Loading saga…</p>}
      {saga && (
        <>
          <section className="panel">
            <div className="row">
              <StatusBadge status={saga.status} />
              <code>{saga.id}</code>
              <Link href={traceHref("saga", saga.id)}>Trace: request → consumers</Link>
              {saga.abortRequested && <span className="badge badge-failed">abort requested</span>}
            </div>
            {canAct && <SagaActions saga={saga} onResult={setResult} />}
            <ResultMessage result={result} />
            <dl className="facts">
              <dt>Current step</dt>
              <dd>
                {saga.currentStep + 1}
                {saga.definedSteps ? ` of ${saga.definedSteps.length} (${saga.definedSteps[saga.currentStep]?.name ?? "?"})` : ""}
              </dd>
              <dt>Started</dt>
              <dd>{formatTime(saga.createdAt)}</dd>
              <dt>Updated</dt>
              <dd>{formatTime(saga.updatedAt)}</dd>
              <dt>Finished</dt>
              <dd>
                {formatTime(saga.finishedAt)}
                {saga.finishedAt ? ` (took ${formatDuration(saga.finishedAt.getTime() - saga.createdAt.getTime())})` : ""}
              </dd>
              {saga.forkedFrom && (
                <>
                  <dt>Forked from</dt>
                  <dd>
                    <Link href={`/admin/sagas/${saga.forkedFrom}`}>saga {saga.forkedFrom.slice(-12)}</Link> at step {(saga.forkedFromStep ?? 0) + 1}
                  </dd>
                </>
              )}
              {saga.forks.length > 0 && (
                <>
                  <dt>Forks</dt>
                  <dd>
                    {saga.forks.map((f) => (
                      <span key={f.id}>
                        <Link href={`/admin/sagas/${f.id}`}>saga {f.id.slice(-12)}</Link> from step {(f.forkedFromStep ?? 0) + 1} (<StatusBadge status={f.status} />){" "}
                      </span>
                    ))}
                  </dd>
                </>
              )}
              <dt>Correlation id</dt>
              <dd>{saga.correlationId ? <code>{saga.correlationId}</code> : "—"}</dd>
              <dt>Generation</dt>
              <dd>
                {saga.generation} <span className="muted">(bumped by each redrive)</span>
              </dd>
            </dl>
            {saga.lastError && (
              <p className="error" role="note">
                Last error: {saga.lastError}
              </p>
            )}
          </section>
          <StepsOverview saga={saga} />
          <section className="panel" aria-labelledby="saga-timeline-title">
            <h2 id="saga-timeline-title">Timeline</h2>
            {saga.steps.length === 0 ? (
              <p className="empty">No step has started yet.</p>
            ) : (
              <div className="table-wrap">
<TableFrame label="Saga timeline">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Started</Table.Th>
                    <Table.Th>Step</Table.Th>
                    <Table.Th>Phase</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Attempts</Table.Th>
                    <Table.Th>Took</Table.Th>
                    <Table.Th>Error / output</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {saga.steps.map((s) => (
                    <Table.Tr key={`${s.stepIndex}:${s.phase}`} className={s.phase === "compensate" ? "compensation" : undefined}>
                      <Table.Td className="muted nowrap">{formatTime(s.startedAt)}</Table.Td>
                      <Table.Td>
                        {s.stepIndex + 1}. {s.stepName}
                      </Table.Td>
                      <Table.Td>{s.phase === "compensate" ? "↩ compensate" : "execute"}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={s.status} />
                      </Table.Td>
                      <Table.Td>{s.attempts}</Table.Td>
                      <Table.Td className="nowrap">{s.durationMs === null ? (s.status === "running" ? "running…" : "—") : formatDuration(s.durationMs)}</Table.Td>
                      <Table.Td>
                        {s.error && <div className="error pre-wrap">{s.error}</div>}
                        {s.output !== null && s.output !== undefined && (
                          <details>
                            <summary>Output</summary>
                            <JsonBlock value={s.output} label={`Output of ${s.stepName}`} />
                          </details>
                        )}
                        <div className="muted small">execution {s.executionId}</div>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </TableFrame>
</div>
            )}
          </section>
          <StepAttempts attempts={saga.stepAttempts} />
          {canAct && <ForkSaga key={saga.id} saga={saga} />}
          <section className="panel" aria-labelledby="saga-input-title">
            <h2 id="saga-input-title">Input and context</h2>
            <details>
              <summary>Input</summary>
              <JsonBlock value={saga.input} label="Saga input" />
            </details>
            <details>
              <summary>Context (step outputs)</summary>
              <JsonBlock value={saga.context} label="Saga context" />
            </details>
          </section>
        </>
      )}
    </>
  );
}

/** Every declared step with where it stands: the ones not run yet show too. */
function StepsOverview({ saga }: { saga: Timeline }) {
  if (!saga.definedSteps) {
    return (
      <p className="panel muted">
        This process does not know the saga type {saga.type}, so its declared steps cannot be listed; the timeline below is complete.
      </p>
    );
  }
  const log = (index: number, phase: "execute" | "compensate") => saga.steps.find((s) => s.stepIndex === index && s.phase === phase);
  return (
    <section className="panel" aria-labelledby="saga-steps-title">
      <h2 id="saga-steps-title">Steps</h2>
      <ol className="steps" aria-label="Saga steps">
        {saga.definedSteps.map((d) => {
          const run = log(d.index, "execute");
          const undo = log(d.index, "compensate");
          const current = d.index === saga.currentStep && !saga.finishedAt;
          return (
            <li key={d.index} className={current ? "current" : undefined} aria-current={current ? "step" : undefined}>
              <strong>{d.name}</strong> {run ? <StatusBadge status={run.status} /> : <span className="muted">not run</span>}
              {undo && (
                <>
                  {" "}
                  ↩ <StatusBadge status={undo.status} />
                </>
              )}
              {!d.compensable && <span className="muted small"> (no compensation)</span>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function SagaActions({ saga, onResult }: { saga: Timeline; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const stepName = (i: number) => saga.definedSteps?.[i]?.name ?? `step ${i + 1}`;
  const settle = {
    onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.sagas.pathKey() }),
    onError: (e: unknown) => onResult({ kind: "error" as const, text: errorText(e) }),
  };
  const retryStep = useMutation(
    trpc.admin.sagas.retryStep.mutationOptions({
      ...settle,
      onSuccess: (r) => onResult({ kind: "ok", text: `Retrying the compensation of step ${r.stepIndex + 1} (${stepName(r.stepIndex)}).` }),
    }),
  );
  const resume = useMutation(
    trpc.admin.sagas.resume.mutationOptions({
      ...settle,
      onSuccess: (r) =>
        onResult({
          kind: "ok",
          text: r.redispatched
            ? `Step ${r.stepIndex + 1} (${stepName(r.stepIndex)}) re-queued; the saga is ${r.status}.`
            : `Step ${r.stepIndex + 1} (${stepName(r.stepIndex)}) already has a live job: nothing re-queued.`,
        }),
    }),
  );
  const redrive = useMutation(
    trpc.admin.sagas.redrive.mutationOptions({
      ...settle,
      onSuccess: (r) => onResult({ kind: "ok", text: `Redriven from step ${r.fromStep + 1} (${stepName(r.fromStep)}); ${plural(r.skipped, "step")} already in effect skipped.` }),
    }),
  );
  const abort = useMutation(trpc.admin.sagas.abort.mutationOptions({ onSettled: settle.onSettled }));
  const s = saga.status;
  const busy = retryStep.isPending || resume.isPending || redrive.isPending || abort.isPending;

  return (
    <div className="row actions" role="group" aria-label="Saga actions">
      <button type="button" disabled={s !== "failed" || busy} onClick={() => retryStep.mutate({ id: saga.id })} title="Retry the compensation that failed (failed sagas)">
        {retryStep.isPending ? "Retrying…" : "Retry step"}
      </button>
      <button type="button" disabled={(s !== "running" && s !== "compensating") || busy} onClick={() => resume.mutate({ id: saga.id })} title="Re-queue the current step if no job for it is alive">
        {resume.isPending ? "Resuming…" : "Resume"}
      </button>
      <button
        type="button"
        disabled={!["failed", "compensated", "aborted"].includes(s) || busy}
        onClick={() => redrive.mutate({ id: saga.id })}
        title="Run forward again from the first step not in effect"
      >
        {redrive.isPending ? "Redriving…" : "Redrive"}
      </button>
      <ConfirmButton
        label="Abort…"
        title="Abort this saga"
        confirmLabel="Abort saga"
        pendingLabel="Aborting…"
        danger
        disabled={s !== "running" || saga.abortRequested || busy}
        canConfirm={reason.trim().length >= 3}
        onOpen={() => setReason("")}
        onConfirm={async () => {
          const r = await abort.mutateAsync({ id: saga.id, reason: reason.trim() });
          onResult({
            kind: "ok",
            text:
              r.status === "running"
                ? "Abort requested: the step in flight finishes first, then the saga compensates."
                : r.status === "aborted"
                  ? "Aborted: no step had completed, nothing to compensate."
                  : "Aborted: compensating the completed steps in reverse.",
          });
        }}
      >
        <p>The completed steps are undone in reverse order and the saga ends aborted. A step in flight is let finish first.</p>
        <label>
          Reason (at least 3 characters, kept on the saga)
          <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required />
        </label>
      </ConfirmButton>
    </div>
  );
}
