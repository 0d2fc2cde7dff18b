import type { AdminInputs } from "../_components/types";

/** What a trace page can start from (the `kind` search parameter of /admin/trace/<id>). */
export type TraceKind = AdminInputs["trace"]["get"]["kind"];

const KINDS: readonly TraceKind[] = ["correlation", "event", "saga", "idempotency", "file"];

/** The kind named by a search parameter; anything else is a correlation id. */
export function traceKindOf(value: string | string[] | undefined): TraceKind {
  const one = Array.isArray(value) ? value[0] : value;
  return KINDS.find((k) => k === one) ?? "correlation";
}

/** Link to the trace page of an anchor (used by the event, saga and idempotency pages). */
export function traceHref(kind: TraceKind, id: string) {
  return `/admin/trace/${encodeURIComponent(id)}?kind=${kind}`;
}
