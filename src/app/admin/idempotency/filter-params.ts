import { oneOf, pattern, text, urlFilter, int } from "../_components/url-filter";

export const RECORD_STATES = ["in_progress", "completed"] as const;

/** The idempotency page in the URL: the counters' window (?hours=24) and the records search (?key=…&procedure=…&state=…). */
export const idempotencyUrlFilter = urlFilter({
  hours: int(1, 24 * 7),
  key: text(255),
  procedure: pattern(/^[\w.]{1,200}$/),
  state: oneOf(RECORD_STATES),
});

export type IdempotencyFilter = ReturnType<typeof idempotencyUrlFilter.parse>;

/** The two queries' inputs from the one URL filter (server prefetch and view use the same). */
export const statsInput = (f: IdempotencyFilter) => (f.hours === undefined ? {} : { hours: f.hours });
export const recordsSearch = ({ hours: _hours, ...search }: IdempotencyFilter) => search;
