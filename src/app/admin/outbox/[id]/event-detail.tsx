"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../../_components/refresh";
import { useLiveUpdates } from "../../_components/live";
import { formatTime, JsonBlock, QueryError, ResultMessage, shortId, StatusBadge, type Result } from "../../_components/ui";
import { EventActions } from "../event-actions";
import { traceHref } from "../../trace/trace-links";
import { DeliveryAttempts } from "./delivery-attempts";
import { ReplayEditor } from "./replay-editor";

export function EventDetail({ id, canAct }: { id: string; canAct: boolean }) {
  const trpc = useTRPC();
  useLiveUpdates(["outbox"]);
  const refetchInterval = useRefetchInterval();
  const [result, setResult] = useState<Result>(null);
  const event = useQuery({ ...trpc.admin.outbox.get.queryOptions({ id }), refetchInterval });
  const e = event.data;

  return (
    <>
      <p>
        <Link href="/admin/outbox">← Outbox</Link>
      </p>
      <div className="row page-head">
        <h1>Event {e ? e.eventType : shortId(id)}</h1>
        <RefreshBar queries={[event]} />
      </div>
      {event.isError && <QueryError what="the event" error={event.error} onRetry={event.refetch} />}
      {event.isPending && <p className="muted">Loading event…</p>}
      {e && (
        <>
          <section className="panel">
            <div className="row">
              <StatusBadge status={e.status} />
              <code>{e.id}</code>
              <Link href={traceHref("event", e.id)}>Trace: request → consumers</Link>
              {canAct && <EventActions event={e} onResult={setResult} />}
            </div>
            <ResultMessage result={result} />
            <dl className="facts">
              <dt>Aggregate</dt>
              <dd>
                <Link href={`/admin/outbox?aggregateType=${encodeURIComponent(e.aggregateType)}&aggregateId=${encodeURIComponent(e.aggregateId)}`}>
                  {e.aggregateType}:{e.aggregateId}
                </Link>{" "}
                <span className="muted">sequence #{e.aggregateSeq}</span>
              </dd>
              <dt>Attempts</dt>
              <dd>
                {e.attempts} of {e.maxAttempts}
              </dd>
              {e.replayOf && (
                <>
                  <dt>Replay of</dt>
                  <dd>
                    <Link href={`/admin/outbox/${e.replayOf}`}>event {shortId(e.replayOf)}</Link>
                  </dd>
                </>
              )}
              {e.replays.length > 0 && (
                <>
                  <dt>Replayed as</dt>
                  <dd>
                    {e.replays.map((r) => (
                      <span key={r.id}>
                        <Link href={`/admin/outbox/${r.id}`}>event {shortId(r.id)}</Link> (<StatusBadge status={r.status} />){" "}
                      </span>
                    ))}
                  </dd>
                </>
              )}
              <dt>Created</dt>
              <dd>{formatTime(e.createdAt)}</dd>
              <dt>Next attempt</dt>
              <dd>{e.status === "pending" || e.status === "failed" ? formatTime(e.nextAttemptAt) : "—"}</dd>
              <dt>Published</dt>
              <dd>{formatTime(e.publishedAt)}</dd>
              <dt>Consumed</dt>
              <dd>{formatTime(e.consumedAt)}</dd>
              <dt>Last failed</dt>
              <dd>{formatTime(e.lastFailedAt)}</dd>
              <dt>Lease</dt>
              <dd>{e.leaseUntil ? `${e.claimedBy ?? "a relay"} until ${formatTime(e.leaseUntil)}` : "—"}</dd>
            </dl>
            {e.blockedBy ? (
              <p className="warn" role="note">
                Held back by an earlier event of this aggregate:{" "}
                <Link href={`/admin/outbox/${e.blockedBy.id}`}>
                  #{e.blockedBy.aggregateSeq} {e.blockedBy.eventType}
                </Link>{" "}
                (<StatusBadge status={e.blockedBy.status} />){e.blockedBy.lastError ? ` — ${e.blockedBy.lastError}` : ""}
              </p>
            ) : null}
          </section>
          {(e.lastError || e.lastErrorStack) && (
            <section className="panel" aria-labelledby="ev-error">
              <h2 id="ev-error">Last error</h2>
              <pre className="json error-text">{e.lastError ?? "—"}</pre>
              {e.lastErrorStack && (
                <details>
                  <summary>Stack trace</summary>
                  <pre className="json">{e.lastErrorStack}</pre>
                </details>
              )}
            </section>
          )}
          <DeliveryAttempts attempts={e.deliveryAttempts} />
          <section className="panel" aria-labelledby="ev-payload">
            <h2 id="ev-payload">Payload</h2>
            <JsonBlock value={e.payload} label="Event payload" />
            <h2>Headers</h2>
            <JsonBlock value={e.headers} label="Event headers" />
          </section>
          {canAct && <ReplayEditor key={e.id} event={e} />}
        </>
      )}
    </>
  );
}
