import type { FailureSource } from "~/server/reliability/failures/groups";
import { oneOf, urlFilter } from "../_components/url-filter";

/** Key order is display order; typed by the contract (a source added there fails the type check here). */
const SOURCES: Record<FailureSource, string> = { outbox: "Outbox events", saga: "Sagas" };
export const FAILURE_SOURCES = Object.entries(SOURCES).map(([value, label]) => ({ value: value as FailureSource, label }));

/** The failure groups' filter in the URL (?source=outbox). */
export const failuresUrlFilter = urlFilter({ source: oneOf(Object.keys(SOURCES) as FailureSource[]) });

export type FailuresFilter = ReturnType<typeof failuresUrlFilter.parse>;
