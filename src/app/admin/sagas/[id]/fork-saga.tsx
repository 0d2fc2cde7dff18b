"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { errorText, shortId } from "../../_components/ui";

const STOPPED = ["completed", "compensated", "aborted", "failed"];

/**
 * Fork from a step (DBOS fork / Inngest rerun-from-step): a new saga that starts at the chosen step
 * with the earlier steps' recorded outputs, optionally with an edited input.
 */
export function ForkSaga({
  saga,
}: {
  saga: { id: string; status: string; input: unknown; context: unknown; definedSteps: Array<{ index: number; name: string }> | null };
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const outputs = ((saga.context as { outputs?: Record<string, unknown> } | null)?.outputs ?? {}) as Record<string, unknown>;
  const steps = saga.definedSteps ?? [];
  // A step can be the start only if every earlier step has a recorded output.
  const firstMissing = steps.findIndex((s) => !Object.hasOwn(outputs, s.name));
  const lastForkable = firstMissing === -1 ? steps.length - 1 : firstMissing;
  const [fromStep, setFromStep] = useState(Math.max(0, Math.min(lastForkable, steps.length - 1)));
  const [editInput, setEditInput] = useState(false);
  const initial = JSON.stringify(saga.input, null, 2);
  const [text, setText] = useState(initial);
  const [reason, setReason] = useState("");
  const fork = useMutation(trpc.admin.sagas.fork.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.sagas.pathKey() }) }));

  if (!saga.definedSteps) return null;
  const stopped = STOPPED.includes(saga.status);
  let input: unknown = undefined;
  let syntaxError: string | null = null;
  if (editInput) {
    try {
      input = JSON.parse(text);
    } catch (e) {
      syntaxError = `Not valid JSON: ${errorText(e)}`;
    }
  }

  return (
    <section className="panel" aria-labelledby="saga-fork-title">
      <h2 id="saga-fork-title">Fork from a step</h2>
      <p className="muted">
        Starts a new saga of this type at the chosen step. The steps before it are not run again: the new saga uses the outputs this saga recorded for them,
        and never compensates them. This saga is left as it is.
      </p>
      {!stopped ? (
        <p className="muted">Only a saga that has stopped can be forked (this one is {saga.status}).</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (syntaxError) return;
            fork.mutate({ id: saga.id, fromStep, ...(editInput ? { input } : {}), reason: reason.trim() || undefined });
          }}
        >
          <label>
            Start at step
            <select value={fromStep} onChange={(e) => (setFromStep(Number(e.target.value)), fork.reset())}>
              {steps.map((s) => (
                <option key={s.index} value={s.index} disabled={s.index > lastForkable}>
                  {s.index + 1}. {s.name}
                  {s.index > lastForkable ? " (an earlier step has no output)" : ""}
                </option>
              ))}
            </select>
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={editInput} onChange={(e) => (setEditInput(e.target.checked), fork.reset())} /> Edit the input
          </label>
          {editInput && (
            <label>
              Input (JSON, checked against the saga&apos;s input schema)
              <textarea value={text} onChange={(e) => (setText(e.target.value), fork.reset())} rows={10} spellCheck={false} className="json" aria-invalid={syntaxError !== null} />
            </label>
          )}
          <label>
            Reason (kept in the audit log)
            <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="optional" />
          </label>
          {syntaxError && (
            <p role="alert" className="error">
              {syntaxError}
            </p>
          )}
          {fork.isError && (
            <p role="alert" className="error">
              Fork refused: {errorText(fork.error)}
            </p>
          )}
          {fork.isSuccess && (
            <p role="status" className="ok">
              Forked as <Link href={`/admin/sagas/${fork.data.id}`}>saga {shortId(fork.data.id)}</Link>, starting at step {fork.data.fromStep + 1}.
            </p>
          )}
          <button type="submit" className="primary" disabled={syntaxError !== null || fork.isPending}>
            {fork.isPending ? "Forking…" : `Fork from step ${fromStep + 1}`}
          </button>
        </form>
      )}
    </section>
  );
}
