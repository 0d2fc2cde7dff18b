"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import type { AdminInputs, AdminOutputs } from "../_components/types";
import { ConfirmButton, formatCount, formatDuration, formatTime, plural, QueryError, ResultMessage, Stat, StatusBadge, type Result } from "../_components/ui";

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
      {fleet.isPending && <p className="muted">Loading the fleet…</p>}
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

function QueueTable({ fleet, canAct, onResult }: { fleet: Fleet; canAct: boolean; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const onSettled = () => queryClient.invalidateQueries({ queryKey: trpc.admin.fleet.pathKey() });
  const pause = useMutation(trpc.admin.fleet.pauseQueue.mutationOptions({ onSettled }));
  const resume = useMutation(trpc.admin.fleet.resumeQueue.mutationOptions({ onSettled }));
  const count = (n: number | undefined) => (n === undefined ? "—" : formatCount(n));
  return (
    <div className="table-wrap">
      <table aria-label="Queues">
        <thead>
          <tr>
            <th>Queue</th>
            <th>State</th>
            <th>Waiting</th>
            <th>Prioritized</th>
            <th>Active</th>
            <th>Delayed</th>
            <th>Failed</th>
            <th>Completed</th>
            {canAct && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {fleet.queues.map((q) => (
            <tr key={q.name}>
              <td>
                <code>{q.name}</code>
              </td>
              <td>
                <StatusBadge status={q.desiredPaused ? "paused" : "running"} />
                {q.paused !== null && q.paused !== q.desiredPaused && <small className="warn"> Redis says {q.paused ? "paused" : "running"}: the workers re-apply it on their next beat</small>}
                {q.changedAt && <small className="muted"> since {formatTime(q.changedAt)}</small>}
              </td>
              <td>{count(q.counts?.waiting)}</td>
              <td>{count(q.counts?.prioritized)}</td>
              <td>{count(q.counts?.active)}</td>
              <td>{count(q.counts?.delayed)}</td>
              <td>{count(q.counts?.failed)}</td>
              <td>{count(q.counts?.completed)}</td>
              {canAct && (
                <td>
                  {!q.pausable ? (
                    <small className="muted">not pausable</small>
                  ) : q.desiredPaused ? (
                    <ConfirmButton
                      label="Resume"
                      title={`Resume queue ${q.name}`}
                      confirmLabel={`Resume ${q.name}`}
                      pendingLabel="Resuming…"
                      onOpen={() => onResult(null)}
                      onConfirm={async () => {
                        const r = await resume.mutateAsync({ queue: q.name as PausableQueue });
                        onResult({ kind: "ok", text: `Queue ${r.queue} resumed${r.appliedNow ? "" : " (Redis did not answer: the workers resume it when it is back)"}.` });
                      }}
                    >
                      <p>
                        Let workers take jobs from <code>{q.name}</code> again?
                      </p>
                    </ConfirmButton>
                  ) : (
                    <ConfirmButton
                      label="Pause"
                      title={`Pause queue ${q.name}`}
                      confirmLabel={`Pause ${q.name}`}
                      pendingLabel="Pausing…"
                      danger
                      onOpen={() => onResult(null)}
                      onConfirm={async () => {
                        const r = await pause.mutateAsync({ queue: q.name as PausableQueue });
                        onResult({ kind: "ok", text: `Queue ${r.queue} paused${r.appliedNow ? "" : " (Redis did not answer: the workers pause it when it is back)"}.` });
                      }}
                    >
                      <p>
                        Stop workers from starting jobs of <code>{q.name}</code> ({plural(q.counts?.waiting ?? 0, "job")} waiting)? Running jobs finish; new ones wait
                        until it is resumed. The pause is kept in PostgreSQL, so it holds even if Redis restarts empty.
                      </p>
                    </ConfirmButton>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function WorkerTable({ fleet }: { fleet: Fleet }) {
  if (fleet.workers.length === 0) return <p className="empty">No worker has registered yet: start one with npm run worker.</p>;
  return (
    <div className="table-wrap">
      <table aria-label="Worker processes">
        <thead>
          <tr>
            <th>Status</th>
            <th>Host</th>
            <th>PID</th>
            <th>Version</th>
            <th>Started</th>
            <th>Last beat</th>
            <th>Jobs in flight</th>
            <th>Concurrency</th>
            <th>Components</th>
          </tr>
        </thead>
        <tbody>
          {fleet.workers.map((w) => (
            <tr key={w.id}>
              <td>
                <StatusBadge status={w.status} />
              </td>
              <td className="nowrap">{w.host}</td>
              <td>{w.pid}</td>
              <td>{w.version}</td>
              <td className="nowrap">{formatTime(w.startedAt)}</td>
              <td className="nowrap">{formatDuration(w.sinceLastBeatMs)} ago</td>
              <td>{formatCount(w.jobsInFlight)}</td>
              <td className="small">
                {Object.entries(w.concurrency as Record<string, number>)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ")}
              </td>
              <td className="small">{w.components.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
