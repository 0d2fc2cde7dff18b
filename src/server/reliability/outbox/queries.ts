import { z } from "zod";
import type { Db } from "../../platform/db/client";
import { Prisma } from "../../db/generated/client";
import { cappedCount } from "../../platform/db/capped-count";
import { notFound } from "../../platform/errors";
import { UNFINGERPRINTED } from "../failures/fingerprint";
import { countStalledEvents, DEFAULT_STALLED_AFTER_MS } from "./reconcile-store";
import { eventFilterFields, withEventFilterRules } from "./event-filter";
import { outboxViewStatuses, type OutboxStatus, type OutboxViewStatus } from "../../contracts/statuses";

/**
 * What an operator sees of the outbox: counts, rates, lists with filters and keyset pagination,
 * blocked aggregates. PostgreSQL is the source of truth; every query here is served by an index of
 * outbox_event (see outbox-explain.test.ts). What an operator does is in operations.ts.
 */
// The statuses are contracts (contracts/statuses.ts); `stalled` is explained there.
export { outboxStatuses, outboxViewStatuses, type OutboxViewStatus } from "../../contracts/statuses";
export type OutboxStatusName = OutboxStatus;

/** How old an unconsumed published event must be to count as stalled (the reconciler's deadline). */
export interface StalledOption {
  stalledAfterMs?: number;
}
const stalledBefore = (opts: StalledOption) => new Date(Date.now() - (opts.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS));

/** The status an operator sees for a row. */
export function viewStatus(row: { status: OutboxStatusName; consumedAt: Date | null; publishedAt: Date | null }, before: Date): OutboxViewStatus {
  return row.status === "published" && row.consumedAt === null && row.publishedAt !== null && row.publishedAt < before ? "stalled" : row.status;
}

export const outboxFilterSchema = withEventFilterRules(
  z.object({
    status: z.array(z.enum(outboxViewStatuses)).min(1).max(outboxViewStatuses.length).optional(),
    ...eventFilterFields,
  }),
);
export type OutboxFilter = z.infer<typeof outboxFilterSchema>;

/** The smallest UUIDv7 of a millisecond: ids are time-ordered, so a time range is an id range. */
export function uuidv7Floor(at: Date): string {
  const hex = Math.max(0, at.getTime()).toString(16).padStart(12, "0").slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/**
 * An event's id is assigned inside its transaction, after created_at (the transaction's start), and
 * at most one transaction timeout later: the slack keeps the id bound of `to` from cutting off an
 * event whose transaction ran long. The id comes from the app's clock and created_at from the
 * database's, so an app clock behind the database's makes the id earlier than created_at: the
 * bound of `from` gets the same slack.
 */
const ID_SLACK_MS = 5 * 60_000;

/** The status filter, with `stalled` and `published` told apart by consumed_at and published_at. */
function statusWhere(statuses: readonly OutboxViewStatus[], before: Date): Prisma.OutboxEventWhereInput {
  const stored = statuses.filter((s): s is Exclude<OutboxViewStatus, "stalled" | "published"> => s !== "stalled" && s !== "published");
  const stalled: Prisma.OutboxEventWhereInput = { status: "published", consumedAt: null, publishedAt: { lt: before } };
  const wantPublished = statuses.includes("published");
  const wantStalled = statuses.includes("stalled");
  const parts: Prisma.OutboxEventWhereInput[] = [];
  if (stored.length) parts.push({ status: { in: stored } });
  if (wantPublished && wantStalled) parts.push({ status: "published" });
  else if (wantPublished) parts.push({ status: "published", NOT: stalled });
  else if (wantStalled) parts.push(stalled);
  return parts.length === 1 ? parts[0]! : { OR: parts };
}

export function whereOf(filter: OutboxFilter, opts: StalledOption = {}): Prisma.OutboxEventWhereInput {
  const id: Prisma.UuidFilter<"OutboxEvent"> = {};
  // Id bounds let the time range use the primary key (and the (status,id)/(event_type,id) indexes).
  if (filter.from) id.gte = uuidv7Floor(new Date(filter.from.getTime() - ID_SLACK_MS));
  if (filter.to) id.lt = uuidv7Floor(new Date(filter.to.getTime() + ID_SLACK_MS));
  return {
    ...(filter.status ? statusWhere(filter.status, stalledBefore(opts)) : {}),
    ...(filter.type ? { eventType: filter.type } : {}),
    ...(filter.aggregateType ? { aggregateType: filter.aggregateType } : {}),
    ...(filter.aggregateId ? { aggregateId: filter.aggregateId } : {}),
    ...(filter.from || filter.to ? { id, createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
    // Text search covers events that failed (every failure stamps last_failed_at): the condition
    // lets PostgreSQL walk the small failed-rows index instead of every row's error column.
    ...(filter.errorContains ? { lastFailedAt: { not: null }, lastError: { contains: filter.errorContains, mode: "insensitive" } } : {}),
    ...(filter.fingerprint ? { failureFingerprint: filter.fingerprint === UNFINGERPRINTED ? null : filter.fingerprint } : {}),
  };
}

const summarySelect = {
  id: true,
  aggregateType: true,
  aggregateId: true,
  aggregateSeq: true,
  eventType: true,
  status: true,
  attempts: true,
  maxAttempts: true,
  nextAttemptAt: true,
  lastError: true,
  lastFailedAt: true,
  createdAt: true,
  publishedAt: true,
  consumedAt: true,
} satisfies Prisma.OutboxEventSelect;

/** Newest first, keyset-paginated on the id (never OFFSET: page 1000 costs what page 1 costs). */
export async function listEvents(db: Db, filter: OutboxFilter, page: { cursor?: string; limit: number }, opts: StalledOption = {}) {
  const before = stalledBefore(opts);
  const where = whereOf(filter, opts);
  if (page.cursor) where.AND = [{ id: { lt: page.cursor } }];
  const rows = await db.outboxEvent.findMany({ where, orderBy: { id: "desc" }, take: page.limit + 1, select: summarySelect });
  const items = rows.slice(0, page.limit).map((r) => ({ ...r, status: viewStatus(r, before) }));
  return { items, nextCursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}

/** A successful attempt as its inbox row keeps it, in the shape of an outbox_delivery_attempt row. */
export const successFromInbox =
  (eventId: string) =>
  (r: { consumer: string; attempt: number | null; startedAt: Date | null; durationMs: number | null; worker: string | null }) => ({
    // Not a row id: one inbox row per event and consumer, so this names it.
    id: `inbox:${r.consumer}:${eventId}`,
    consumer: r.consumer,
    attempt: r.attempt ?? 1,
    outcome: "succeeded" as const,
    startedAt: r.startedAt!,
    durationMs: r.durationMs ?? 0,
    error: null,
    worker: r.worker ?? "unknown",
  });

/** How many delivery attempts the event page shows (newest first). */
export const ATTEMPTS_SHOWN = 200;

export async function getEvent(db: Db, id: string, opts: StalledOption = {}) {
  const event = await db.outboxEvent.findUnique({
    where: { id },
    select: { ...summarySelect, payload: true, headers: true, lastErrorStack: true, leaseUntil: true, claimedBy: true, replayOf: true },
  });
  if (!event) throw notFound(`Outbox event ${id} was not found (it may have been removed by retention)`);
  // Every delivery attempt, per consumer, newest first (bounded: maxAttempts per retry round): the
  // failures and duplicates, and the successes, which their inbox rows keep (one per consumer).
  const [kept, inbox] = await Promise.all([
    db.outboxDeliveryAttempt.findMany({
      where: { eventId: id },
      orderBy: [{ startedAt: "desc" }, { id: "desc" }],
      take: ATTEMPTS_SHOWN,
      select: { id: true, consumer: true, attempt: true, outcome: true, startedAt: true, durationMs: true, error: true, worker: true },
    }),
    db.inboxEntry.findMany({
      where: { eventId: id, startedAt: { not: null } },
      select: { consumer: true, attempt: true, startedAt: true, durationMs: true, worker: true },
    }),
  ]);
  const deliveryAttempts = [...kept, ...inbox.map(successFromInbox(id))]
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1))
    .slice(0, ATTEMPTS_SHOWN);
  const replays = await db.outboxEvent.findMany({
    where: { replayOf: id },
    orderBy: { id: "desc" },
    take: 20,
    select: { id: true, status: true, createdAt: true, consumedAt: true, publishedAt: true },
  });
  // Which earlier event of the same aggregate holds this one back, if any.
  const blockedBy = await db.outboxEvent.findFirst({
    where: {
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      aggregateSeq: { lt: event.aggregateSeq },
      consumedAt: null,
      status: { not: "discarded" },
    },
    orderBy: { aggregateSeq: "asc" },
    select: { id: true, aggregateSeq: true, eventType: true, status: true, lastError: true, publishedAt: true, consumedAt: true },
  });
  const before = stalledBefore(opts);
  return {
    ...event,
    status: viewStatus(event, before),
    deliveryAttempts,
    replays: replays.map((r) => ({ id: r.id, createdAt: r.createdAt, status: viewStatus({ ...r, status: r.status }, before) })),
    blockedBy: blockedBy && { id: blockedBy.id, aggregateSeq: blockedBy.aggregateSeq, eventType: blockedBy.eventType, status: viewStatus(blockedBy, before), lastError: blockedBy.lastError },
  };
}

/** Counts per status, the oldest due event's age, and per-minute publish/failure counts. */
export async function outboxStats(db: Db, opts: { windowMinutes: number } & StalledOption) {
  const grouped = await db.$queryRaw<Array<{ status: OutboxStatusName; n: bigint }>>`
    SELECT status, count(*) AS n FROM outbox_event
    WHERE status IN ('pending', 'publishing', 'failed', 'dead', 'discarded')
    GROUP BY status`;
  const counts: Record<OutboxViewStatus, number> = { pending: 0, publishing: 0, published: 0, stalled: 0, failed: 0, dead: 0, discarded: 0 };
  for (const row of grouped) counts[row.status] = Number(row.n);
  // Counting millions of published rows exactly would read every one of them on each refresh: past
  // EXACT_COUNT_CAP the planner's estimate is shown instead (and said to be one: publishedApproximate).
  const publishedCount = await cappedCount(db, Prisma.sql`outbox_event WHERE status = 'published'`, Prisma.sql`published_at`);
  counts.published = publishedCount.count;
  const publishedApproximate = publishedCount.approximate;
  // Stalled events are published rows, shown apart: counted from the small in-flight index.
  counts.stalled = await countStalledEvents(db, { stalledAfterMs: opts.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS });
  counts.published = Math.max(0, counts.published - counts.stalled);

  const oldest = await db.$queryRaw<Array<{ age_ms: number | null }>>`
    SELECT (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS age_ms FROM (
      (SELECT created_at FROM outbox_event WHERE status = 'pending' ORDER BY status, id LIMIT 1)
      UNION ALL
      (SELECT created_at FROM outbox_event WHERE status = 'failed' ORDER BY status, id LIMIT 1)
    ) due`;

  const since = new Date(Date.now() - opts.windowMinutes * 60_000);
  const published = await db.$queryRaw<Array<{ minute: Date; n: bigint }>>`
    SELECT date_trunc('minute', published_at) AS minute, count(*) AS n FROM outbox_event
    WHERE status = 'published' AND published_at >= ${since} GROUP BY 1 ORDER BY 1`;
  const failed = await db.$queryRaw<Array<{ minute: Date; n: bigint }>>`
    SELECT date_trunc('minute', last_failed_at) AS minute, count(*) AS n FROM outbox_event
    WHERE last_failed_at IS NOT NULL AND last_failed_at >= ${since} GROUP BY 1 ORDER BY 1`;
  const perMinute = new Map<number, { minute: Date; published: number; failed: number }>();
  const bucket = (minute: Date) => perMinute.get(minute.getTime()) ?? perMinute.set(minute.getTime(), { minute, published: 0, failed: 0 }).get(minute.getTime())!;
  for (const r of published) bucket(r.minute).published = Number(r.n);
  for (const r of failed) bucket(r.minute).failed = Number(r.n);
  const rates = [...perMinute.values()].sort((a, b) => a.minute.getTime() - b.minute.getTime());
  const total = (k: "published" | "failed") => rates.reduce((s, r) => s + r[k], 0);

  return {
    counts,
    publishedApproximate,
    oldestDueAgeMs: oldest[0]?.age_ms ?? null,
    windowMinutes: opts.windowMinutes,
    publishedPerMinute: total("published") / opts.windowMinutes,
    failedPerMinute: total("failed") / opts.windowMinutes,
    rates,
  };
}

/**
 * Aggregates whose events are held back, and the event holding them: the earliest unconsumed event
 * of each aggregate that has later events waiting. Longest-blocked first.
 */
export async function blockedAggregates(db: Db, opts: { limit: number } & StalledOption) {
  const before = stalledBefore(opts);
  const rows = await db.$queryRaw<
    Array<{
      aggregate_type: string;
      aggregate_id: string;
      head_id: string;
      head_seq: number;
      head_type: string;
      head_status: OutboxViewStatus;
      head_error: string | null;
      head_created_at: Date;
      waiting: number;
    }>
  >`
    SELECT h.aggregate_type, h.aggregate_id, h.id AS head_id, h.aggregate_seq AS head_seq, h.event_type AS head_type,
           CASE WHEN h.status = 'published' AND h.published_at < ${before} THEN 'stalled' ELSE h.status::text END AS head_status, h.last_error AS head_error, h.created_at AS head_created_at,
           (SELECT count(*) FROM outbox_event w
             WHERE w.aggregate_type = h.aggregate_type AND w.aggregate_id = h.aggregate_id
               AND w.aggregate_seq > h.aggregate_seq AND w.consumed_at IS NULL AND w.status <> 'discarded')::int AS waiting
    FROM (
      SELECT DISTINCT ON (aggregate_type, aggregate_id) id, aggregate_type, aggregate_id, aggregate_seq, event_type, status, last_error, created_at, published_at
      FROM outbox_event
      WHERE consumed_at IS NULL AND status <> 'discarded'
      ORDER BY aggregate_type, aggregate_id, aggregate_seq
    ) h
    WHERE EXISTS (
      SELECT 1 FROM outbox_event w
      WHERE w.aggregate_type = h.aggregate_type AND w.aggregate_id = h.aggregate_id
        AND w.aggregate_seq > h.aggregate_seq AND w.consumed_at IS NULL AND w.status <> 'discarded')
    ORDER BY h.created_at
    LIMIT ${opts.limit}`;
  return rows.map((r) => ({
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    waitingEvents: r.waiting,
    blockedBy: { id: r.head_id, aggregateSeq: r.head_seq, eventType: r.head_type, status: r.head_status, lastError: r.head_error, createdAt: r.head_created_at },
  }));
}
