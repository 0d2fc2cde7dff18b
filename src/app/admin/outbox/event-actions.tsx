"use client";

import { Group, Text } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react";
import { ConfirmButton, shortId, type Result } from "../_components/ui";

/** Retry (failed/dead/stalled) and Discard (pending/failed/dead) for one outbox event, each behind a confirm. */
export function EventActions({
  event,
  onResult,
}: {
  event: { id: string; eventType: string; status: string; aggregateType: string; aggregateId: string; aggregateSeq: number };
  onResult: (result: Result) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.pathKey() });
  const retry = useMutation(trpc.admin.outbox.retry.mutationOptions({ onSettled: refresh }));
  const discard = useMutation(trpc.admin.outbox.discard.mutationOptions({ onSettled: refresh }));
  const retryable = event.status === "failed" || event.status === "dead" || event.status === "stalled";
  const discardable = event.status === "failed" || event.status === "dead" || event.status === "pending";
  const what = `${event.eventType} #${event.aggregateSeq} of ${event.aggregateType}:${shortId(event.aggregateId)}`;

  // Both go through a confirm dialog (it shows a failure and stays open); success is a toast.
  return (
    <Group gap={6} wrap="nowrap">
      {retryable && (
        <ConfirmButton
          label="Retry"
          ariaLabel={`Retry event ${event.id}`}
          size="xs"
          title={`Retry event ${shortId(event.id)}`}
          confirmLabel="Retry event"
          pendingLabel="Retrying…"
          onOpen={() => onResult(null)}
          onConfirm={() => retry.mutateAsync({ id: event.id })}
          successToast={`Event ${shortId(event.id)} (${event.eventType}) queued for retry.`}
        >
          <Text size="sm">
            Publish <strong>{what}</strong> again now? Its attempts start over; its consumers must tolerate a second delivery (they are idempotent by contract).
          </Text>
        </ConfirmButton>
      )}
      {discardable && (
        <ConfirmButton
          label="Discard"
          ariaLabel={`Discard event ${event.id}`}
          size="xs"
          title={`Discard event ${shortId(event.id)}`}
          confirmLabel="Discard event"
          pendingLabel="Discarding…"
          danger
          reason={{ label: "Why discard it? (kept with the event)", minLength: 3, maxLength: 500 }}
          onOpen={() => onResult(null)}
          onConfirm={(reason) => discard.mutateAsync({ id: event.id, reason })}
          successToast={`Event ${shortId(event.id)} (${event.eventType}) discarded.`}
        >
          <Text size="sm">
            Discard <strong>{what}</strong>? It will never be published, and the later events of that aggregate stop waiting for it. This cannot be undone.
          </Text>
        </ConfirmButton>
      )}
    </Group>
  );
}
