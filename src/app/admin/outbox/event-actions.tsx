"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { ConfirmButton, errorText, shortId, type Result } from "../_components/ui";

/** Retry (failed/dead) and Discard (pending/failed/dead, behind a confirm) for one outbox event. */
export function EventActions({
  event,
  onResult,
}: {
  event: { id: string; eventType: string; status: string; aggregateType: string; aggregateId: string; aggregateSeq: number };
  onResult: (result: Result) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.pathKey() });
  const retry = useMutation(
    trpc.admin.outbox.retry.mutationOptions({
      onSuccess: () => onResult({ kind: "ok", text: `Event ${shortId(event.id)} (${event.eventType}) queued for retry.` }),
      onError: (e) => onResult({ kind: "error", text: `Retry failed: ${errorText(e)}` }),
      onSettled: refresh,
    }),
  );
  const discard = useMutation(trpc.admin.outbox.discard.mutationOptions({ onSettled: refresh }));
  const retryable = event.status === "failed" || event.status === "dead" || event.status === "stalled";
  const discardable = event.status === "failed" || event.status === "dead" || event.status === "pending";

  return (
    <div className="row">
      {retryable && (
        <button type="button" onClick={() => retry.mutate({ id: event.id })} disabled={retry.isPending} aria-label={`Retry event ${event.id}`}>
          {retry.isPending ? "Retrying…" : "Retry"}
        </button>
      )}
      {discardable && (
        <ConfirmButton
          label="Discard"
          title={`Discard event ${shortId(event.id)}`}
          confirmLabel="Discard event"
          pendingLabel="Discarding…"
          danger
          onOpen={() => setReason("")}
          onConfirm={async () => {
            await discard.mutateAsync({ id: event.id, reason: reason.trim() || undefined });
            onResult({ kind: "ok", text: `Event ${shortId(event.id)} (${event.eventType}) discarded.` });
          }}
        >
          <p>
            Discard <strong>{event.eventType}</strong> #{event.aggregateSeq} of {event.aggregateType}:{shortId(event.aggregateId)}? It will never be published, and
            the later events of that aggregate stop waiting for it. This cannot be undone.
          </p>
          <label>
            Reason (kept with the event and in the audit log)
            <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="optional" />
          </label>
        </ConfirmButton>
      )}
    </div>
  );
}
