import { z } from "zod";
import { Prisma } from "../../db/generated/client";
import { UNFINGERPRINTED } from "../failures/fingerprint";
import { uuidv7Floor } from "../outbox/queries";

/**
 * What a bulk action on SAGAS may select: by status, saga type (definition name), current step, time
 * range (created), text in the error, failure group, and how long the saga has not moved. Every
 * query built from it reads `saga_instance_actionable_idx` (the partial index of sagas that are not
 * completed) by id, so its cost follows the sagas an operator can act on, never the completed
 * millions (see bulk-explain.test.ts).
 */
export const sagaBulkActions = ["saga.redrive", "saga.abort", "saga.resume"] as const;
export type SagaBulkAction = (typeof sagaBulkActions)[number];

type ActionableSagaStatus = "running" | "compensating" | "failed" | "compensated" | "aborted";
export const actionableSagaStatuses = ["running", "compensating", "failed", "compensated", "aborted"] as const satisfies readonly ActionableSagaStatus[];

/** The statuses each action applies to: the same rules as the one-saga operations (saga/operations.ts). */
export const SAGA_ACTION_STATUSES: Record<SagaBulkAction, readonly ActionableSagaStatus[]> = {
  "saga.redrive": ["failed", "compensated", "aborted"],
  "saga.abort": ["running"],
  "saga.resume": ["running", "compensating"],
};

export const sagaBulkFilterSchema = z
  .object({
    status: z.array(z.enum(actionableSagaStatuses)).min(1).max(5).optional(),
    /** The saga definition's name, e.g. file.upload. */
    type: z.string().trim().min(1).max(100).optional(),
    /** The step the saga is at (0-based). */
    currentStep: z.number().int().min(0, "currentStep is a step index (0 or more)").max(1_000).optional(),
    from: z.date().optional(),
    to: z.date().optional(),
    errorContains: z.string().trim().min(1, "the error text to look for cannot be empty").max(200).optional(),
    /** A failure group: sagas whose latest failure has this error fingerprint. */
    fingerprint: z.string().regex(/^[0-9a-f]{32}$/, "fingerprint is the 32 hex characters of a failure group").optional(),
    /** Only sagas that have not moved for this many minutes (what "stuck" means for a resume). */
    idleMinutes: z.number().int().min(1, "idleMinutes is at least 1").max(525_600).optional(),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { message: "`from` must be before `to`", path: ["to"] });
export type SagaBulkFilter = z.infer<typeof sagaBulkFilterSchema>;

/** The filter of a stored operation (JSON: dates are strings), read back. */
export function parseStoredSagaFilter(value: unknown): SagaBulkFilter {
  const raw = value as Record<string, unknown>;
  return sagaBulkFilterSchema.parse({
    ...raw,
    ...(typeof raw.from === "string" ? { from: new Date(raw.from) } : {}),
    ...(typeof raw.to === "string" ? { to: new Date(raw.to) } : {}),
  });
}

/**
 * A saga's id (UUIDv7) is taken in the app before its INSERT, while created_at is the database's
 * now(): the id's time may be earlier (by the insert's latency, or by the skew between the two
 * clocks). The id bounds only narrow the primary-key range and are widened by this slack on both
 * sides, so they never cut off a saga that created_at (the exact condition) admits. Same rule as
 * the saga overview's `since` (saga/queries.ts).
 */
export const ID_SLACK_MS = 5 * 60_000;
const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Statuses the filter leaves for the action: none means the filter can never match. */
export function sagaStatusesFor(action: SagaBulkAction, filter: SagaBulkFilter) {
  const allowed = SAGA_ACTION_STATUSES[action];
  return (filter.status ?? allowed).filter((s) => allowed.includes(s));
}

/**
 * The WHERE conditions of a saga filter for an action. Statuses are literals from the fixed list
 * above (never input), so the planner proves the partial index's predicate in any plan.
 */
export function sagaBulkConditions(action: SagaBulkAction, filter: SagaBulkFilter): Prisma.Sql {
  const statuses = sagaStatusesFor(action, filter);
  const parts: Prisma.Sql[] = [
    statuses.length ? Prisma.raw(`status IN (${statuses.map((s) => `'${s}'`).join(", ")})`) : Prisma.raw("false"),
  ];
  if (filter.type) parts.push(Prisma.sql`type = ${filter.type}`);
  if (filter.currentStep !== undefined) parts.push(Prisma.sql`current_step = ${filter.currentStep}`);
  if (filter.from) parts.push(Prisma.sql`created_at >= ${filter.from} AND id >= ${uuidv7Floor(new Date(filter.from.getTime() - ID_SLACK_MS))}::uuid`);
  if (filter.to) parts.push(Prisma.sql`created_at < ${filter.to} AND id < ${uuidv7Floor(new Date(filter.to.getTime() + ID_SLACK_MS))}::uuid`);
  if (filter.errorContains) parts.push(Prisma.sql`last_error ILIKE ${`%${likeEscape(filter.errorContains)}%`}`);
  if (filter.fingerprint) {
    parts.push(filter.fingerprint === UNFINGERPRINTED ? Prisma.sql`failure_fingerprint IS NULL` : Prisma.sql`failure_fingerprint = ${filter.fingerprint}`);
  }
  if (filter.idleMinutes) parts.push(Prisma.sql`GREATEST(updated_at, progressed_at) < now() - ${filter.idleMinutes}::int * interval '1 minute'`);
  return Prisma.join(parts, " AND ");
}
