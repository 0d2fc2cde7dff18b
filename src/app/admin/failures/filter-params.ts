import type { FailureSource } from "~/server/reliability/failures/groups";
import { oneOf, pattern, urlFilter } from "../_components/url-filter";

/** Key order is display order; typed by the contract (a source added there fails the type check here). */
const SOURCES: Record<FailureSource, string> = { outbox: "Outbox events", saga: "Sagas" };
export const FAILURE_SOURCES = Object.entries(SOURCES).map(([value, label]) => ({ value: value as FailureSource, label }));

/** The failure groups' filter in the URL (?source=outbox, and ?fingerprint=… for one group: links from the overview). */
export const failuresUrlFilter = urlFilter({ source: oneOf(Object.keys(SOURCES) as FailureSource[]), fingerprint: pattern(/^[0-9a-f]{32}$/) });

export type FailuresFilter = ReturnType<typeof failuresUrlFilter.parse>;

/** The groups query's input: the procedure lists by source; one group is picked out of the list by the page. */
export const groupsInput = ({ fingerprint: _fingerprint, ...input }: FailuresFilter) => input;

/** The failures page showing one group. */
export const failureGroupHref = (g: { source: FailureSource; fingerprint: string }) => `/admin/failures?${failuresUrlFilter.format(g).toString()}`;
