import type { AdminInputs } from "../_components/types";

/** The audit search as URL parameters (a search is a link that can be shared), for the page and its view. */
export type AuditSearch = Omit<AdminInputs["audit"]["search"], "cursor" | "limit">;

export const TEXT_KEYS = ["actor", "action", "targetId", "text"] as const;

/** The search from the URL (so a search can be shared as a link); dates as ISO strings. */
export function auditSearchFrom(params: URLSearchParams): AuditSearch {
  const search: AuditSearch = {};
  for (const key of TEXT_KEYS) {
    const v = params.get(key)?.trim();
    if (v) search[key] = v;
  }
  for (const key of ["from", "to"] as const) {
    const v = params.get(key);
    const d = v ? new Date(v) : null;
    if (d && !Number.isNaN(d.getTime())) search[key] = d;
  }
  return search;
}

export function auditSearchParams(search: AuditSearch) {
  const params = new URLSearchParams();
  for (const key of TEXT_KEYS) if (search[key]) params.set(key, search[key]);
  if (search.from) params.set("from", search.from.toISOString());
  if (search.to) params.set("to", search.to.toISOString());
  return params;
}

