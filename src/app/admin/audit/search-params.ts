import { isoDate, text, urlFilter } from "../_components/url-filter";

/** The audit search in the URL (a search is a link that can be shared), for the page and its view; dates as ISO strings. */
export const auditUrlFilter = urlFilter(
  {
    actor: text(320),
    action: text(100),
    targetId: text(200),
    text: text(200),
    from: isoDate,
    to: isoDate,
  },
  // A range that runs backwards is refused by the procedure: keep its start only.
  ({ to, ...f }) => (to && (!f.from || f.from < to) ? { ...f, to } : f),
);

export type AuditSearch = ReturnType<typeof auditUrlFilter.parse>;
