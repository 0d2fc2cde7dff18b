import type { SagaActionStatus, SagaBulkFilter } from "./actions";

/**
 * The bulk page's saga prefill travels in its URL: the sagas list links to it with its current
 * filter ("Bulk redrive…"), and the page reads it back. Only what the bulk saga filter knows
 * travels (status, type, text in the error); the list's other filters do not apply to a bulk action.
 */
type Search = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim() || undefined;
const REDRIVE_STATUSES: SagaActionStatus[] = ["failed", "compensated", "aborted"];

export function bulkRedriveHref(filter: { status?: readonly string[]; type?: string; error?: string }): string {
  const params = new URLSearchParams({ target: "saga" });
  const status = (filter.status ?? []).filter((s): s is SagaActionStatus => (REDRIVE_STATUSES as string[]).includes(s));
  if (status.length) params.set("status", status.join(","));
  if (filter.type) params.set("type", filter.type);
  if (filter.error) params.set("error", filter.error);
  return `/admin/bulk?${params.toString()}`;
}

/** The target and saga filter a bulk page URL asks for (anything unknown is ignored). */
export function bulkPrefillFrom(search: Search): { target: "outbox" | "saga"; sagaFilter: SagaBulkFilter } {
  const statuses = [search.status ?? []].flat().flatMap((s) => s.split(","));
  const status = REDRIVE_STATUSES.filter((s) => statuses.includes(s));
  const type = one(search.type)?.slice(0, 100);
  const error = one(search.error)?.slice(0, 200);
  return {
    target: one(search.target) === "saga" ? "saga" : "outbox",
    sagaFilter: { ...(status.length ? { status } : {}), ...(type ? { type } : {}), ...(error ? { errorContains: error } : {}) },
  };
}
