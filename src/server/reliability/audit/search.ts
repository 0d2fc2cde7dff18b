import { z } from "zod";
import type { Db, Prisma } from "../../platform/db/client";
import { ACTION_PATTERN } from "./record";

/**
 * Searching the audit log: newest first, keyset-paginated on the UUIDv7 id (page 1000 costs what
 * page 1 costs). Actor and action use their (column, id) indexes, a target id the GIN index on
 * target_ids (jsonb containment), the time range becomes an id range on the primary key.
 */
export const auditSearchSchema = z
  .object({
    /** The actor's user id, or (part of) the email snapshot. */
    actor: z.string().trim().min(1, "the actor to look for cannot be empty").max(320).optional(),
    action: z.string().trim().regex(ACTION_PATTERN, "action looks like outbox.retry or saga.abort").max(100).optional(),
    targetId: z.string().trim().min(1, "the target id cannot be empty").max(200).optional(),
    /** Text in the reason, the action or the correlation id (case-insensitive). */
    text: z.string().trim().min(1, "the text to look for cannot be empty").max(200).optional(),
    from: z.date().optional(),
    to: z.date().optional(),
    cursor: z.uuid({ message: "cursor must be the id of the last row of the previous page" }).optional(),
    limit: z.number().int().min(1).max(200).default(50),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { message: "`from` must be before `to`", path: ["to"] });
export type AuditSearch = z.infer<typeof auditSearchSchema>;

const ID_SLACK_MS = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The smallest UUIDv7 of a millisecond: ids are time-ordered, so a time range is an id range. */
function uuidv7Floor(at: Date): string {
  const hex = Math.max(0, at.getTime()).toString(16).padStart(12, "0").slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

export async function searchAudit(db: Db, query: AuditSearch) {
  const and: Prisma.OperatorAuditWhereInput[] = [];
  if (query.actor) {
    and.push(UUID.test(query.actor) ? { actorId: query.actor } : { actorEmail: { contains: query.actor, mode: "insensitive" } });
  }
  if (query.action) and.push({ action: query.action });
  if (query.targetId) and.push({ targetIds: { array_contains: [query.targetId] } });
  if (query.text) {
    and.push({
      OR: [
        { reason: { contains: query.text, mode: "insensitive" } },
        { action: { contains: query.text, mode: "insensitive" } },
        { correlationId: { contains: query.text, mode: "insensitive" } },
      ],
    });
  }
  // The id and `at` are both taken when the row is written (ids a few ms later at most): the id
  // bounds let the range use the primary key, the slack keeps them from cutting a row off.
  if (query.from) and.push({ id: { gte: uuidv7Floor(new Date(query.from.getTime() - ID_SLACK_MS)) } }, { at: { gte: query.from } });
  if (query.to) and.push({ id: { lt: uuidv7Floor(new Date(query.to.getTime() + ID_SLACK_MS)) } }, { at: { lt: query.to } });
  if (query.cursor) and.push({ id: { lt: query.cursor } });
  const rows = await db.operatorAudit.findMany({ where: { AND: and }, orderBy: { id: "desc" }, take: query.limit + 1 });
  const items = rows.slice(0, query.limit).map((r) => ({ ...r, targetIds: Array.isArray(r.targetIds) ? (r.targetIds as string[]) : [] }));
  return { items, nextCursor: rows.length > query.limit ? (items.at(-1)?.id ?? null) : null };
}
