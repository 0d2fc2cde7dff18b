"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import type { AdminInputs, AdminOutputs } from "../_components/types";
import { DataTable, type Column } from "../_components/data-table";
import { ConfirmButton, formatCount, formatDuration, formatTime, plural, LoadingState, QueryError, ResultMessage, Stat, StatusBadge, type Result } from "../_components/ui";

type Fleet = AdminOutputs["fleet"]["list"];
/** Only pausable queues get a button (`q.pausable`), so their names are of this type. */
type PausableQueue = AdminInputs["fleet"]["pauseQueue"]["queue"];

/** The worker fleet: processes (from PostgreSQL), BullMQ's counts per queue (from Redis), pause/resume. */
export function FleetView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const [result, setResult] = useState<Result>(null);
  const fleet = useQuery({ ...trpc.admin.fleet.list.queryOptions(), refetchInterval });

  return (
    <>
      <div className="row page-head">
        <h1>Worker fleet</h1>
        <RefreshBar queries={[fleet]} />
      </div>
      <ResultMessage result={result} />
      {fleet.isError && <QueryError what="the fleet" error={fleet.error} onRetry={fleet.refetch} />}
      {fleet.isPending && <LoadingState what="the fleet" />}
      {fleet.data && (
        <>
          <Summary fleet={fleet.data} />
          <section className="panel" aria-labelledby="fleet-queues">
            <h2 id="fleet-queues">Queues</h2>
            <QueueTable fleet={fleet.data} canAct={canAct} onResult={setResult} />
          </section>
          <section className="panel" aria-labelledby="fleet-workers">
            <h2 id="fleet-workers">Worker processes</h2>
            <WorkerTable fleet={fleet.data} />
          </section>
        </>
      )}
    </>
  );
}

function Summary({ fleet }: { fleet: Fleet }) {
  const live = fleet.workers.filter((w) => w.status === "live");
  const gone = fleet.workers.filter((w) => w.status === "gone").length;
  const paused = fleet.queues.filter((q) => q.desiredPaused).length;
  return (
    <dl className="stats" aria-label="Fleet summary">
      <Stat label="Live workers" value={formatCount(live.length)} tone={live.length ? "ok" : "bad"} />
      <Stat label="Jobs in flight" value={formatCount(live.reduce((n, w) => n + w.jobsInFlight, 0))} />
      <Stat label="Gone" value={formatCount(gone)} hint={`no beat for ${fleet.missedBeatsBeforeGone} intervals`} tone={gone ? "warn" : undefined} />
      <Stat label="Paused queues" value={formatCount(paused)} tone={paused ? "warn" : undefined} />
      <Stat label="Redis" value={fleet.redis} tone={fleet.redis === "ok" ? "ok" : "bad"} hint={fleet.redis === "ok" ? undefined : "counts unknown"} />
    </dl>
  );
}

type Queue = Fleet["queues"][number];
type Worker = Fleet["workers"][number];

const count = (n: number | undefined) => (n === undefined ? "—" : formatCount(n));
const COUNT_COLUMNS = (["waiting", "prioritized", "active", "delayed", "failed", "completed"] as const).map(
  (k): Column<Queue> => ({ header: k[0]!.toUpperCase() + k.slice(1), cell: (q) => count(q.counts?.[k]) }),
);

function QueueTable({ fleet, canAct, onResult }: { fleet: Fleet; canAct: boolean; onResult: (r: Result) => void }) {
  const columns: Array<Column<Queue>> = [
    { header: "Queue", cell: (q) => <code>{q.name}</code> },
    {
      header: "State",
      cell: (q) => (
        <>
          <StatusBadge status={q.desiredPaused ? "paused" : "running"} />
          {q.paused !== null && q.paused !== q.desiredPaused && <small className="warn"> Redis says {q.paused ? "paused" : "running"}: the workers re-apply it on their next beat</small>}
          {q.changedAt && <small className="muted"> since {formatTime(q.changedAt)}</small>}
        </>
      ),
    },
    ...COUNT_COLUMNS,
    { header: "", label: "Actions", show: canAct, cell: (q) => <QueueAction queue={q} onResult={onResult} /> },
  ];
  return <DataTable label="Queues" what="queues" rows={fleet.queues} columns={columns} rowKey={(q) => q.name} empty="No queue is known." />;
}

/** Pause or resume one queue, behind a confirm. */
function QueueAction({ queue: q, onResult }: { queue: Queue; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const onSettled = () => queryClient.invalidateQueries({ queryKey: trpc.admin.fleet.pathKey() });
  const pause = useMutation(trpc.admin.fleet.pauseQueue.mutationOptions({ onSettled }));
  const resume = useMutation(trpc.admin.fleet.resumeQueue.mutationOptions({ onSettled }));
  if (!q.pausable) return <small className="muted">not pausable</small>;
  const resuming = q.desiredPaused;
  const verb = resuming ? "Resume" : "Pause";
  return (
    <ConfirmButton
      label={verb}
      title={`${verb} queue ${q.name}`}
      confirmLabel={`${verb} ${q.name}`}
      pendingLabel={resuming ? "Resuming…" : "Pausing…"}
      danger={!resuming}
      onOpen={() => onResult(null)}
      onConfirm={async () => {
        const r = await (resuming ? resume : pause).mutateAsync({ queue: q.name as PausableQueue });
        const later = resuming ? "resume" : "pause";
        onResult({ kind: "ok", text: `Queue ${r.queue} ${resuming ? "resumed" : "paused"}${r.appliedNow ? "" : ` (Redis did not answer: the workers ${later} it when it is back)`}.` });
      }}
    >
      {resuming ? (
        <p>
          Let workers take jobs from <code>{q.name}</code> again?
        </p>
      ) : (
        <p>
          Stop workers from starting jobs of <code>{q.name}</code> ({plural(q.counts?.waiting ?? 0, "job")} waiting)? Running jobs finish; new ones wait until it
          is resumed. The pause is kept in PostgreSQL, so it holds even if Redis restarts empty.
        </p>
      )}
    </ConfirmButton>
  );
}

const WORKER_COLUMNS: Array<Column<Worker>> = [
  { header: "Status", cell: (w) => <StatusBadge status={w.status} /> },
  { header: "Host", cell: (w) => w.host, nowrap: true },
  { header: "PID", cell: (w) => w.pid },
  { header: "Version", cell: (w) => w.version },
  { header: "Started", cell: (w) => formatTime(w.startedAt), nowrap: true },
  { header: "Last beat", cell: (w) => `${formatDuration(w.sinceLastBeatMs)} ago`, nowrap: true },
  { header: "Jobs in flight", cell: (w) => formatCount(w.jobsInFlight) },
  {
    header: "Concurrency",
    cell: (w) =>
      Object.entries(w.concurrency as Record<string, number>)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
  },
  { header: "Components", cell: (w) => w.components.join(", ") },
];

function WorkerTable({ fleet }: { fleet: Fleet }) {
  return (
    <DataTable
      label="Worker processes"
      what="worker processes"
      rows={fleet.workers}
      columns={WORKER_COLUMNS}
      rowKey={(w) => w.id}
      empty="No worker has registered yet: start one with npm run worker."
    />
  );
}
