"use client";

import type { AdminOutputs } from "../../_components/types";
import { formatDuration, formatTime, StatusBadge } from "../../_components/ui";

type Attempt = AdminOutputs["sagas"]["timeline"]["stepAttempts"][number];

/** Every attempt of every step (forward and compensation), newest first: retries keep their errors. */
export function StepAttempts({ attempts }: { attempts: Attempt[] }) {
  return (
    <section className="panel" aria-labelledby="saga-attempts-title">
      <h2 id="saga-attempts-title">Step attempts</h2>
      {attempts.length === 0 ? (
        <p className="empty">No step attempt has finished yet.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="Step attempts">
            <thead>
              <tr>
                <th>Started</th>
                <th>Step</th>
                <th>Phase</th>
                <th>Attempt</th>
                <th>Outcome</th>
                <th>Took</th>
                <th>Worker</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={`${a.stepIndex}:${a.phase}:${a.generation}:${a.attempt}:${a.startedAt.getTime()}`} className={a.phase === "compensate" ? "compensation" : undefined}>
                  <td className="muted nowrap">{formatTime(a.startedAt)}</td>
                  <td>
                    {a.stepIndex + 1}. {a.stepName}
                  </td>
                  <td>{a.phase === "compensate" ? "↩ compensate" : "forward"}</td>
                  <td>
                    #{a.attempt}
                    {a.generation > 0 && <span className="muted small"> (generation {a.generation})</span>}
                  </td>
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
