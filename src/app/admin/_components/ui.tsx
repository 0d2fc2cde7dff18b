"use client";

import { useRef, useState, type ReactNode } from "react";

/** Times in UTC, the same on the server render and in every operator's browser. */
export function formatTime(date: Date | null | undefined) {
  if (!date) return "—";
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function formatDuration(ms: number | null | undefined) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatPercent(rate: number | null | undefined) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}

export const formatCount = (n: number) => n.toLocaleString("en-US");

export const plural = (n: number, one: string, many = `${one}s`) => `${formatCount(n)} ${n === 1 ? one : many}`;

export function shortId(id: string) {
  return id.slice(-12);
}

/** A status as a coloured label; the text carries the meaning, the colour only helps scanning. */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status.replace("_", " ")}</span>;
}

/** A load failure with what went wrong and a way to try again. */
export function QueryError({ what, error, onRetry }: { what: string; error: { message: string }; onRetry: () => unknown }) {
  return (
    <p role="alert" className="error">
      Could not load {what}: {error.message}{" "}
      <button type="button" onClick={() => void onRetry()}>
        Retry
      </button>
    </p>
  );
}

export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {value === undefined ? "—" : JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** The message of a mutation's outcome: status for success, alert for failure. */
export function ResultMessage({ result }: { result: { kind: "ok" | "error"; text: string } | null }) {
  if (!result) return null;
  return (
    <p role={result.kind === "error" ? "alert" : "status"} className={result.kind === "error" ? "error" : "ok"}>
      {result.text}
    </p>
  );
}

export type Result = { kind: "ok" | "error"; text: string } | null;

export function errorText(error: unknown) {
  return error instanceof Error ? error.message : "Something went wrong";
}

/**
 * A button that opens a confirm <dialog>; the dialog stays open with the error if the action
 * fails, and closes when it succeeds. `onConfirm` is the mutation (mutateAsync).
 */
export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel = label,
  pendingLabel = "Working…",
  danger = false,
  disabled = false,
  canConfirm = true,
  onConfirm,
  onOpen,
}: {
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel?: string;
  pendingLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  /** False while the dialog's own form is not filled in (e.g. a reason is required). */
  canConfirm?: boolean;
  onConfirm: () => Promise<unknown>;
  onOpen?: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function confirm() {
    setPending(true);
    setError(null);
    try {
      await onConfirm();
      ref.current?.close();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setPending(false);
    }
  }
  return (
    <>
      <button
        type="button"
        className={danger ? "danger" : undefined}
        disabled={disabled}
        onClick={() => {
          setError(null);
          onOpen?.();
          ref.current?.showModal();
        }}
      >
        {label}
      </button>
      <dialog ref={ref} aria-label={title}>
        <h3>{title}</h3>
        {children}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <div className="row">
          <button type="button" className={danger ? "danger" : "primary"} onClick={() => void confirm()} disabled={pending || !canConfirm}>
            {pending ? pendingLabel : confirmLabel}
          </button>
          <button type="button" onClick={() => ref.current?.close()} disabled={pending}>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  );
}

/** A labelled number on the overview. */
export function Stat({ label, value, hint, tone }: { label: string; value: ReactNode; hint?: ReactNode; tone?: "ok" | "warn" | "bad" }) {
  return (
    <div className={`stat${tone ? ` stat-${tone}` : ""}`}>
      <dt>{label}</dt>
      <dd>
        {value}
        {hint && <small className="muted"> {hint}</small>}
      </dd>
    </div>
  );
}
