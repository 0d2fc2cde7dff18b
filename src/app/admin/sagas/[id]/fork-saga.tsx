"use client";

import { Button, Checkbox, Group, Select, Stack, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { HydratedForm } from "../../_components/hydrated-form";
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
        <HydratedForm
          aria-label="Fork from a step"
          onSubmit={(e) => {
            e.preventDefault();
            if (syntaxError) return;
            fork.mutate({ id: saga.id, fromStep, ...(editInput ? { input } : {}), reason: reason.trim() || undefined });
          }}
        >
          <Stack gap="sm">
            <Select
              label="Start at step"
              data={steps.map((s) => ({
                value: String(s.index),
                label: `${s.index + 1}. ${s.name}${s.index > lastForkable ? " (an earlier step has no output)" : ""}`,
                disabled: s.index > lastForkable,
              }))}
              value={String(fromStep)}
              onChange={(v) => {
                if (v === null) return;
                setFromStep(Number(v));
                fork.reset();
              }}
              allowDeselect={false}
              maw={420}
            />
            <Checkbox label="Edit the input" checked={editInput} onChange={(e) => (setEditInput(e.currentTarget.checked), fork.reset())} />
            {editInput && (
              <Textarea
                label="Input (JSON, checked against the saga's input schema)"
                value={text}
                onChange={(e) => (setText(e.currentTarget.value), fork.reset())}
                rows={10}
                spellCheck={false}
                classNames={{ input: "json" }}
                error={syntaxError !== null}
              />
            )}
            <TextInput label="Reason (kept in the audit log)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} maxLength={500} placeholder="optional" maw={420} />
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
            <Group>
              <Button type="submit" disabled={syntaxError !== null} loading={fork.isPending}>
                {`Fork from step ${fromStep + 1}`}
              </Button>
            </Group>
          </Stack>
        </HydratedForm>
      )}
    </section>
  );
}
