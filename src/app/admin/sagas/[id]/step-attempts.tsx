"use client";

import { AttemptsList } from "../../_components/attempts-list";
import type { AdminOutputs } from "../../_components/types";

type StepAttempt = AdminOutputs["sagas"]["timeline"]["stepAttempts"][number];

/** Every attempt of every step (forward and compensation), newest first. */
export function StepAttempts({ attempts }: { attempts: StepAttempt[] }) {
  return (
    <AttemptsList
      title="Step attempts"
      headingId="saga-attempts-title"
      attempts={attempts}
      what={[
        { header: "Step", cell: (a) => `${a.stepIndex + 1}. ${a.stepName}` },
        { header: "Phase", cell: (a) => (a.phase === "compensate" ? "↩ compensate" : "forward") },
      ]}
      attemptNote={(a) => a.generation > 0 && <span className="muted small"> (generation {a.generation})</span>}
      rowKey={(a) => `${a.stepIndex}:${a.phase}:${a.generation}:${a.attempt}:${a.startedAt.getTime()}`}
      rowProps={(a) => ({ className: a.phase === "compensate" ? "compensation" : undefined })}
      empty="No step attempt has finished yet."
    />
  );
}
