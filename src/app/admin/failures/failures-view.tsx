"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { AUDIT_REASON } from "../_components/audit-reason";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import type { AdminOutputs } from "../_components/types";
import { ConfirmButton, formatCount, formatTime, plural, QueryError, ResultMessage, shortId, type Result } from "../_components/ui";

type Group = AdminOutputs["failures"]["groups"][number];

/** Failures grouped by cause (error fingerprint): one row per cause, with a retry or discard for all of it. */
export function FailuresView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const groups = useQuery({ ...trpc.admin.failures.groups.queryOptions({}), refetchInterval });
  const [result, setResult] = useState<Result>(null);
  return (
    <>
      <h1>Failure groups</h1>
      <RefreshBar queries={[groups]} />
      <p>
        Failed and dead events and failed sagas, grouped by their error: the class, the message with ids and numbers taken out, and the first frame of our
        own code. Fix the cause, then retry the whole group.
      </p>
      <ResultMessage result={result} />
      {groups.isError && <QueryError what="failure groups" error={groups.error} onRetry={groups.refetch} />}
      {groups.isPending ? (
        <p>Loading failure groups…</p>
      ) : groups.data && groups.data.length === 0 ? (
        <p>No failures: no failed or dead event and no failed saga.</p>
      ) : (
        <table aria-label="Failure groups">
          <thead>
            <tr>
              <th>Where</th>
              <th>Error</th>
              <th>Count</th>
              <th>First seen</th>
              <th>Last seen</th>
              <th>Types</th>
              <th>Sample</th>
              {canAct && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {groups.data?.map((g) => (
              <tr key={`${g.source}:${g.fingerprint}`} aria-label={`Failure group ${g.errorClass}: ${g.message}`}>
                <td>{g.source === "outbox" ? "outbox" : "sagas"}</td>
                <td>
                  <strong>{g.errorClass}</strong>: {g.message || "(no message)"}
                  {g.frame && (
                    <div>
                      at <code>{g.frame}</code>
                    </div>
                  )}
                </td>
                <td>
                  {formatCount(g.count)}
                  <div>
                    {Object.entries(g.byStatus)
                      .map(([status, n]) => `${formatCount(n)} ${status}`)
                      .join(", ")}
                  </div>
                </td>
                <td>{formatTime(g.firstSeen)}</td>
                <td>{formatTime(g.lastSeen)}</td>
                <td>{g.types.join(", ")}</td>
                <td>
                  {g.source === "outbox" ? (
                    <>
                      <Link href={`/admin/outbox/${g.sample.id}`}>event {shortId(g.sample.id)}</Link>
                      {" · "}
                      <Link href={`/admin/outbox?fingerprint=${g.fingerprint}`}>all {formatCount(g.count)}</Link>
                    </>
                  ) : (
                    <Link href={`/admin/sagas/${g.sample.id}`}>saga {shortId(g.sample.id)}</Link>
                  )}
                </td>
                {canAct && (
                  <td>
                    <GroupActions group={g} onResult={setResult} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function GroupActions({ group, onResult }: { group: Group; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.pathKey() });
  const retry = useMutation(trpc.admin.failures.retryGroup.mutationOptions({ onSettled: refresh }));
  const discard = useMutation(trpc.admin.failures.discardGroup.mutationOptions({ onSettled: refresh }));
  const what = `${group.errorClass}: ${group.message}`;
  const input = { source: group.source, fingerprint: group.fingerprint };
  return (
    <div>
      <ConfirmButton
        reason={AUDIT_REASON}
        label="Retry group…"
        title={`Retry failure group ${group.errorClass}`}
        confirmLabel={`Retry ${plural(group.count, group.source === "outbox" ? "event" : "saga")}`}
        pendingLabel="Retrying…"
        onOpen={() => {
          onResult(null);
        }}
        onConfirm={async (reason) => {
          const r = await retry.mutateAsync({ ...input, reason: reason.trim() || undefined });
          onResult({ kind: "ok", text: `Group retried: ${plural(r.affected, group.source === "outbox" ? "event" : "saga")} ${group.source === "outbox" ? "queued again" : "redriven"}${r.skipped ? `, ${formatCount(r.skipped)} skipped (changed meanwhile)` : ""}.` });
        }}
      >
        <p>
          {group.source === "outbox"
            ? `Every failed or dead event of this group (${formatCount(group.count)} now) goes back to pending with a fresh set of attempts.`
            : `Every saga of this group (${formatCount(group.count)} now) is redriven from its first step not in effect.`}
        </p>
        <p>
          <code>{what}</code>
        </p>
      </ConfirmButton>{" "}
      {group.source === "outbox" && (
        <ConfirmButton
          reason={AUDIT_REASON}
          label="Discard group…"
          title={`Discard failure group ${group.errorClass}`}
          confirmLabel={`Discard ${plural(group.count, "event")}`}
          pendingLabel="Discarding…"
          danger
          onOpen={() => {
            onResult(null);
          }}
          onConfirm={async (reason) => {
            const r = await discard.mutateAsync({ ...input, reason: reason.trim() || undefined });
            onResult({ kind: "ok", text: `Group discarded: ${plural(r.affected, "event")}.` });
          }}
        >
          <p>
            Every failed or dead event of this group ({formatCount(group.count)} now) is discarded: never published, and no longer blocking its aggregate.
            This cannot be undone.
          </p>
          <p>
            <code>{what}</code>
          </p>
        </ConfirmButton>
      )}
    </div>
  );
}
