import { FILE_EVENT_TYPES, OUTBOX_STATUSES, type OutboxFilter } from "../_components/types";
import { pattern, someOf, text, urlFilter, type UrlFilter } from "../_components/url-filter";

/** The outbox filter in the URL (links from the overview: ?status=failed, ?aggregateType=file&aggregateId=…; from failures: ?fingerprint=…). */
export const outboxUrlFilter: UrlFilter<OutboxFilter> = urlFilter(
  {
    status: someOf(OUTBOX_STATUSES),
    type: text(100),
    aggregateType: text(100),
    aggregateId: text(200),
    errorContains: text(200, "error"),
    // A failure group's events (link from /admin/failures).
    fingerprint: pattern(/^[0-9a-f]{32}$/),
  },
  // An aggregate id means nothing without its type: the procedure refuses it alone.
  ({ aggregateId, ...f }) => (f.aggregateType && aggregateId ? { ...f, aggregateId } : f),
);

export const KNOWN_EVENT_TYPES = FILE_EVENT_TYPES;

export function describeFilter(f: OutboxFilter) {
  const parts = [
    f.status?.length ? `status ${f.status.join(" or ")}` : null,
    f.type ? `type ${f.type}` : null,
    f.aggregateType ? `aggregate ${f.aggregateType}${f.aggregateId ? `:${f.aggregateId}` : ""}` : null,
    f.errorContains ? `error contains “${f.errorContains}”` : null,
    f.fingerprint ? `failure group ${f.fingerprint.slice(0, 8)}` : null,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : "no filter (all events)";
}
