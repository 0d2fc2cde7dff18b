"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { errorText, shortId } from "../../_components/ui";

interface Issue {
  path: string;
  message: string;
}

/** What the server said about a refused payload: its per-field issues when it gave them. */
function issuesOf(error: unknown): Issue[] {
  const details = (error as { data?: { details?: { issues?: Issue[] } | null } } | null)?.data?.details;
  return Array.isArray(details?.issues) ? details.issues : [];
}

/**
 * Replay this event with an edited payload: a JSON editor checked locally for syntax and by the
 * server against the event type's contract; a valid replay is a new event linked to this one.
 */
export function ReplayEditor({ event }: { event: { id: string; eventType: string; payload: unknown } }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const initial = JSON.stringify(event.payload, null, 2);
  const [text, setText] = useState(initial);
  const [reason, setReason] = useState("");
  const replay = useMutation(
    trpc.admin.outbox.replayEdited.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.pathKey() }) }),
  );

  let parsed: unknown = undefined;
  let syntaxError: string | null = null;
  try {
    parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) syntaxError = "The payload must be a JSON object";
  } catch (e) {
    syntaxError = `Not valid JSON: ${errorText(e)}`;
  }
  const issues = replay.isError ? issuesOf(replay.error) : [];

  return (
    <section className="panel" aria-labelledby="ev-replay">
      <h2 id="ev-replay">Replay with an edited payload</h2>
      <p className="muted">
        Creates a new <strong>{event.eventType}</strong> event of the same aggregate with this payload, checked against the event&apos;s contract. This event
        stays as it is. The replay is delivered after the earlier events of the aggregate (this one included, unless it is consumed or discarded).
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (syntaxError) return;
          replay.mutate({ id: event.id, payload: parsed as Record<string, unknown>, reason: reason.trim() || undefined });
        }}
      >
        <label>
          Payload (JSON)
          <textarea
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              replay.reset();
            }}
            rows={Math.min(24, Math.max(6, text.split("\n").length + 1))}
            spellCheck={false}
            aria-invalid={syntaxError !== null || replay.isError}
            aria-describedby="replay-problems"
            className="json"
          />
        </label>
        <label>
          Reason (kept in the audit log)
          <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="optional" />
        </label>
        <div id="replay-problems">
          {syntaxError && (
            <p role="alert" className="error">
              {syntaxError}
            </p>
          )}
          {replay.isError && (
            <div role="alert" className="error">
              <p>Replay refused: {errorText(replay.error)}</p>
              {issues.length > 0 && (
                <ul aria-label="Contract violations">
                  {issues.map((i) => (
                    <li key={`${i.path}:${i.message}`}>
                      <code>{i.path || "(payload)"}</code>: {i.message}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {replay.isSuccess && (
            <p role="status" className="ok">
              Replayed as <Link href={`/admin/outbox/${replay.data.id}`}>event {shortId(replay.data.id)}</Link>
              {replay.data.waitsFor ? (
                <>
                  {" "}
                  — it waits for <Link href={`/admin/outbox/${replay.data.waitsFor.id}`}>event {shortId(replay.data.waitsFor.id)}</Link> ({replay.data.waitsFor.status}) to be
                  consumed or discarded.
                </>
              ) : (
                "."
              )}
            </p>
          )}
        </div>
        <div className="row">
          <button type="submit" className="primary" disabled={syntaxError !== null || replay.isPending}>
            {replay.isPending ? "Replaying…" : "Replay edited event"}
          </button>
          <button type="button" onClick={() => (setText(initial), replay.reset())} disabled={text === initial}>
            Reset to the original payload
          </button>
        </div>
      </form>
    </section>
  );
}
