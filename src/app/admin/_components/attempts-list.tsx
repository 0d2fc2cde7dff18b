"use client";

import type { ReactNode } from "react";
import { DataTable, type Column } from "./data-table";
import type { StatusName } from "./status-colors";
import { formatDuration, formatTime, StatusBadge } from "./ui";

/** What an attempt row has, whether an event's delivery to a consumer or a saga step's run. */
export interface Attempt {
  startedAt: Date;
  attempt: number;
  outcome: StatusName;
  durationMs: number | null;
  worker: string;
  error: string | null;
}

/**
 * Every attempt, newest first, as the worker recorded it: a retry never hides the one before, and
 * each keeps its error. Event delivery attempts and saga step attempts share it; `what` adds the
 * columns of their own (the consumer; the step and phase), `attemptNote` a note after "#n".
 */
export function AttemptsList<A extends Attempt>({
  title,
  headingId,
  attempts,
  what,
  attemptNote,
  rowKey,
  rowProps,
  empty,
}: {
  title: string;
  headingId: string;
  attempts: readonly A[];
  what: ReadonlyArray<Column<A>>;
  attemptNote?: (a: A) => ReactNode;
  rowKey: (a: A) => string;
  rowProps?: (a: A) => { className?: string };
  empty: string;
}) {
  const columns: Array<Column<A>> = [
    { header: "Started", cell: (a) => formatTime(a.startedAt), muted: true, nowrap: true },
    ...what,
    {
      header: "Attempt",
      cell: (a) => (
        <>
          #{a.attempt}
          {attemptNote?.(a)}
        </>
      ),
    },
    { header: "Outcome", cell: (a) => <StatusBadge status={a.outcome} /> },
    { header: "Took", cell: (a) => formatDuration(a.durationMs), nowrap: true },
    { header: "Worker", cell: (a) => <code>{a.worker}</code> },
    { header: "Error", cell: (a) => (a.error ? <div className="error pre-wrap">{a.error}</div> : "—") },
  ];
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      <DataTable label={title} what={title.toLowerCase()} rows={attempts} columns={columns} rowKey={rowKey} rowProps={rowProps} empty={empty} />
    </section>
  );
}
