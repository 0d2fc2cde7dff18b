/**
 * A search hit: what was found, its id, a line a person recognises it by, and the console page that
 * shows it. The pages are the console's own (src/app/admin); only their paths are known here.
 */
export const HIT_KINDS = ["event", "aggregate", "saga", "file", "idempotency", "correlation", "user", "audit"] as const;
export type HitKind = (typeof HIT_KINDS)[number];

export interface SearchHit {
  kind: HitKind;
  id: string;
  label: string;
  href: string;
}

const enc = encodeURIComponent;
const query = (params: Record<string, string>) => new URLSearchParams(params).toString();

export const hrefs = {
  event: (id: string) => `/admin/outbox/${enc(id)}`,
  aggregate: (type: string, id: string) => `/admin/outbox?${query({ aggregateType: type, aggregateId: id })}`,
  saga: (id: string) => `/admin/sagas/${enc(id)}`,
  /** A file's page in the console is its trace: the file's events, sagas and consumer runs. */
  file: (id: string) => `/admin/trace/${enc(id)}?kind=file`,
  idempotency: (key: string) => `/admin/idempotency?${query({ key })}`,
  correlation: (id: string) => `/admin/trace/${enc(id)}?kind=correlation`,
  user: (email: string) => `/admin/users?${query({ query: email })}`,
  auditByTarget: (id: string) => `/admin/audit?${query({ targetId: id })}`,
  auditByText: (text: string) => `/admin/audit?${query({ text })}`,
};
