import { z } from "zod";
import { Prisma } from "../../db/generated/client";
import { UNFINGERPRINTED } from "../failures/fingerprint";
import { uuidv7Floor } from "../../reliability/outbox/queries";
import { eventFilterFields, withEventFilterRules } from "../outbox/event-filter";

/**
 * What a bulk action may select: outbox events an operator can act on (pending, failed, dead), by
 * status, type, aggregate, time range, text in the error, failure group, and a JSON path/value in
 * the payload. Every query built from it reads only `outbox_event_actionable_idx` (the partial
 * index of actionable rows) by id, so its cost follows the failures, never the published millions
 * (see bulk-explain.test.ts).
 */
export const bulkActions = ["outbox.retry", "outbox.discard"] as const;
export type BulkAction = (typeof bulkActions)[number];

/** The statuses each action applies to (a retry needs a failure; a discard also takes pending). */
export const ACTION_STATUSES: Record<BulkAction, readonly ("pending" | "failed" | "dead")[]> = {
  "outbox.retry": ["failed", "dead"],
  "outbox.discard": ["pending", "failed", "dead"],
};

const jsonScalar = z.union([z.string().max(500), z.number().finite(), z.boolean(), z.null()]);

export const bulkFilterSchema = withEventFilterRules(
  z.object({
    status: z.array(z.enum(["pending", "failed", "dead"])).min(1).max(3).optional(),
    ...eventFilterFields,
    /** payload #> path = value: e.g. { path: "ownerId", value: "…" } or { path: "meta.source", value: "import" }. */
    payload: z
      .object({
        path: z
          .string()
          .trim()
          .regex(/^[A-Za-z_][\w-]{0,63}(\.[A-Za-z_][\w-]{0,63}){0,7}$/, "path is dot-separated keys, e.g. ownerId or meta.source"),
        value: jsonScalar,
      })
      .optional(),
  }),
);
export type BulkFilter = z.infer<typeof bulkFilterSchema>;

/** The filter of a stored operation (JSON: dates are strings), read back. */
export function parseStoredFilter(value: unknown): BulkFilter {
  const raw = value as Record<string, unknown>;
  return bulkFilterSchema.parse({
    ...raw,
    ...(typeof raw.from === "string" ? { from: new Date(raw.from) } : {}),
    ...(typeof raw.to === "string" ? { to: new Date(raw.to) } : {}),
  });
}

const ID_SLACK_MS = 5 * 60_000;
const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The WHERE conditions of a filter for an action. The statuses are written as literals (from the
 * fixed list above, never from input) so the planner can prove the partial index's predicate
 * whatever the plan (a generic prepared plan cannot, with the statuses as parameters).
 */
export function bulkConditions(action: BulkAction, filter: BulkFilter): Prisma.Sql {
  const allowed = ACTION_STATUSES[action];
  const statuses = (filter.status ?? allowed).filter((s) => allowed.includes(s));
  const parts: Prisma.Sql[] = [
    statuses.length ? Prisma.raw(`status IN (${statuses.map((s) => `'${s}'`).join(", ")})`) : Prisma.raw("false"),
  ];
  if (filter.type) parts.push(Prisma.sql`event_type = ${filter.type}`);
  if (filter.aggregateType) parts.push(Prisma.sql`aggregate_type = ${filter.aggregateType}`);
  if (filter.aggregateId) parts.push(Prisma.sql`aggregate_id = ${filter.aggregateId}`);
  if (filter.from) parts.push(Prisma.sql`created_at >= ${filter.from} AND id >= ${uuidv7Floor(new Date(filter.from.getTime() - ID_SLACK_MS))}::uuid`);
  if (filter.to) parts.push(Prisma.sql`created_at < ${filter.to} AND id < ${uuidv7Floor(new Date(filter.to.getTime() + ID_SLACK_MS))}::uuid`);
  if (filter.errorContains) parts.push(Prisma.sql`last_error ILIKE ${`%${likeEscape(filter.errorContains)}%`}`);
  if (filter.fingerprint) {
    parts.push(filter.fingerprint === UNFINGERPRINTED ? Prisma.sql`failure_fingerprint IS NULL` : Prisma.sql`failure_fingerprint = ${filter.fingerprint}`);
  }
  if (filter.payload) parts.push(Prisma.sql`payload #> ${filter.payload.path.split(".")}::text[] = ${JSON.stringify(filter.payload.value)}::jsonb`);
  return Prisma.join(parts, " AND ");
}

/** Statuses the filter leaves for the action: none means the filter can never match. */
export function statusesFor(action: BulkAction, filter: BulkFilter) {
  const allowed = ACTION_STATUSES[action];
  return (filter.status ?? allowed).filter((s) => allowed.includes(s));
}
