"use client";

import type { AdminOutputs } from "../../_components/types";
import { formatDuration, formatTime, StatusBadge } from "../../_components/ui";

type Attempt = AdminOutputs["outbox"]["get"]["deliveryAttempts"][number];

/** Every delivery attempt of the event, per consumer, newest first: a retry never hides the one before. */
export function DeliveryAttempts({ attempts }: { attempts: Attempt[] }) {
  return (
    <section className="panel" aria-labelledby="ev-attempts">
      <h2 id="ev-attempts">Delivery attempts</h2>
      {attempts.length === 0 ? (
        <p className="empty">No consumer has run on this event yet.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="Delivery attempts">
            <thead>
              <tr>
                <th>Started</th>
                <th>Consumer</th>
                <th>Attempt</th>
                <th>Outcome</th>
                <th>Took</th>
                <th>Worker</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={a.id}>
                  <td className="muted nowrap">{formatTime(a.startedAt)}</td>
                  <td>{a.consumer}</td>
                  <td>#{a.attempt}</td>
                  <td>
                    <StatusBadge status={a.outcome} />
                  </td>
                  <td className="nowrap">{formatDuration(a.durationMs)}</td>
                  <td>
                    <code>{a.worker}</code>
                  </td>
                  <td>{a.error ? <div className="error pre-wrap">{a.error}</div> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
