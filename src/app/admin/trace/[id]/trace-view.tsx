"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "~/trpc/react";
import type { AdminInputs, AdminOutputs } from "../../_components/types";
import { traceHref, type TraceKind } from "../trace-links";
import { formatDuration, formatTime, QueryError, shortId, StatusBadge } from "../../_components/ui";

type Trace = AdminOutputs["trace"]["get"];
type Entry = Trace["entries"][number];
const KIND_LABEL: Record<Entry["kind"], string> = {
  request: "request",
  idempotency: "record",
  saga: "saga",
  "saga-step": "step",
  event: "event",
  "consumer-run": "consumer",
};

/**
 * The waterfall: one row per entry in time order, a bar placed on the trace's own time axis
 * (start → end of the whole chain), children indented under their parent.
 */
export function TraceView({ kind, id }: { kind: TraceKind; id: string }) {
  const trpc = useTRPC();
  const trace = useQuery(trpc.admin.trace.get.queryOptions({ kind, id } as AdminInputs["trace"]["get"]));
  const t = trace.data;
  return (
    <>
      <p>
        <Link href="/admin">← Overview</Link>
      </p>
      <h1>Trace {kind === "correlation" ? shortId(id) : `of ${kind} ${shortId(id)}`}</h1>
      {trace.isError && <QueryError what="the trace" error={trace.error} onRetry={trace.refetch} />}
      {trace.isPending && <p>Loading trace…</p>}
      {t && <TraceBody trace={t} />}
    </>
  );
}

function TraceBody({ trace }: { trace: Trace }) {
  const start = trace.startedAt ? new Date(trace.startedAt).getTime() : 0;
  const end = trace.finishedAt ? new Date(trace.finishedAt).getTime() : start;
  const span = Math.max(1, end - start);
  return (
    <section data-testid="trace">
      <dl>
        <dt>Correlation id</dt>
        <dd>{trace.correlationId ? <code data-testid="trace-correlation-id">{trace.correlationId}</code> : "none (written before correlation ids existed)"}</dd>
        <dt>From</dt>
        <dd>{formatTime(trace.startedAt)} to {formatTime(trace.finishedAt)} ({formatDuration(end - start)})</dd>
        {trace.otherCorrelationIds.length > 0 && (
          <>
            <dt>Later actions on it</dt>
            <dd>
              {trace.otherCorrelationIds.map((c) => (
                <span key={c}>
                  <Link href={traceHref("correlation", c)}>{shortId(c)}</Link>{" "}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      {trace.entries.length === 0 ? (
        <p>Nothing recorded under this correlation id (or it has been cleaned up by retention).</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>What</th>
              <th>Status</th>
              <th>Started</th>
              <th>Duration</th>
              <th style={{ width: "35%" }}>Timeline</th>
            </tr>
          </thead>
          <tbody>
            {trace.entries.map((e) => (
              <EntryRow key={`${e.kind}:${e.id}`} entry={e} start={start} span={span} depth={depthOf(e, trace.entries)} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function depthOf(entry: Entry, all: Entry[]): number {
  let depth = 0;
  let parent = entry.parentId;
  while (parent && depth < 4) {
    depth++;
    parent = all.find((e) => e.id === parent)?.parentId ?? null;
  }
  return depth;
}

function EntryRow({ entry, start, span, depth }: { entry: Entry; start: number; span: number; depth: number }) {
  const from = new Date(entry.startedAt).getTime();
  const to = entry.finishedAt ? new Date(entry.finishedAt).getTime() : from;
  const left = ((from - start) / span) * 100;
  const width = Math.max(0.5, ((to - from) / span) * 100);
  const failed = entry.error !== null;
  return (
    <tr data-testid={`trace-entry-${entry.kind}`}>
      <td style={{ paddingLeft: `${depth * 1.25}rem` }}>
        <small>{KIND_LABEL[entry.kind]}</small> {entry.href ? <Link href={entry.href}>{entry.label}</Link> : <strong>{entry.label}</strong>}
        <div>
          {entry.facts.map(([name, value]) => (
            <small key={name}>
              {name}: <code>{value}</code>{" "}
            </small>
          ))}
        </div>
        {entry.error && <div role="alert">{entry.error}</div>}
      </td>
      <td>
        <StatusBadge status={entry.status} />
      </td>
      <td>{formatTime(entry.startedAt)}</td>
      <td>{entry.finishedAt ? formatDuration(entry.durationMs) : "—"}</td>
      <td>
        <div role="img" style={{ position: "relative", height: "0.9rem", background: "rgba(127,127,127,0.12)" }} aria-label={`+${from - start} ms`}>
          <div
            style={{
              position: "absolute",
              left: `${left}%`,
              width: `${width}%`,
              top: 0,
              bottom: 0,
              background: failed ? "#c62828" : entry.finishedAt ? "#3f51b5" : "#9fa8da",
            }}
          />
        </div>
      </td>
    </tr>
  );
}
