import { randomUUID } from "node:crypto";
import type { Db } from "../../platform/db/client";
import { DomainError, notFound } from "../../platform/errors";
import { inTransaction, type Tx } from "../../platform/db/transaction";
import { recordOperatorAction, type AuditContext } from "../audit";
import type { OutboxViewStatus } from "../../contracts/statuses";
import { whereOf, type OutboxFilter } from "./queries";

/**
 * What an operator does with the outbox: retry, retry-all-matching and discard, each with its
 * audit row in the same transaction. What they see is in queries.ts.
 */

async function wakeRelays(db: Db) {
  await db.$executeRaw`SELECT pg_notify('outbox_event', 'operator')`;
}

/** Why an action does not apply to an event, in words an operator can act on. */
async function explainRefusal(db: Db, id: string, action: string, allowed: string): Promise<never> {
  const row = await db.outboxEvent.findUnique({ where: { id }, select: { status: true, consumedAt: true } });
  if (!row) throw notFound(`Outbox event ${id} was not found (it may have been removed by retention)`);
  const state = row.status === "published" && row.consumedAt ? "published and consumed" : row.status;
  throw new DomainError("conflict", `Event ${id} is ${state}; only ${allowed} events can be ${action}`, { status: row.status });
}

/**
 * Send an event again now, with a fresh set of attempts: a failed or dead one, or a published one
 * that no consumer has finished (its job was lost, e.g. Redis restarted without persistence, so its
 * aggregate waits behind it). Publishing uses the event id as job id, so if the job does still
 * exist this is a no-op in BullMQ.
 */
export async function retryEvent(db: Db, id: string, audit: AuditContext) {
  // One transaction: the event's reset and its audit row commit (or roll back) together.
  return inTransaction(db, async (tx) => {
    const n = await tx.$executeRaw`
      UPDATE outbox_event SET status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL, claimed_by = NULL
      WHERE id = ${id}::uuid AND (status IN ('failed', 'dead') OR (status = 'published' AND consumed_at IS NULL))`;
    if (n === 0) await explainRefusal(db, id, "retried", "failed or dead (or published but not yet consumed)");
    await recordOperatorAction(tx, { ...audit, action: "outbox.retry", targetKind: "outbox_event", targetIds: [id], affectedCount: n });
    await wakeRelays(db); // NOTIFY is delivered at commit
    return { id, status: "pending" as const };
  });
}

/** Reset failed or dead events among `ids` for a fresh set of attempts; how many were. */
export function retryEventsByIds(tx: Tx, ids: string[]): Promise<number> {
  return tx.$executeRaw`
    UPDATE outbox_event SET status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL, claimed_by = NULL
    WHERE id = ANY(${ids}::uuid[]) AND status IN ('failed', 'dead')`;
}

/** Discard the pending, failed or dead events among `ids`, keeping `note` in last_error; how many were. */
export function discardEventsByIds(tx: Tx, ids: string[], note: string): Promise<number> {
  return tx.$executeRaw`
    UPDATE outbox_event
    SET status = 'discarded', lease_until = NULL, claimed_by = NULL,
        last_error = CASE WHEN last_error IS NULL THEN ${note} ELSE ${note} || E'\n' || last_error END
    WHERE id = ANY(${ids}::uuid[]) AND status IN ('pending', 'failed', 'dead')`;
}

export const discardNote = (audit: AuditContext) => `discarded by ${audit.actor.email}${audit.reason ? `: ${audit.reason}` : ""}`;

export interface MatchingAction {
  verb: "retry" | "discard";
  batchSize: number;
  maxEvents: number;
  /** The audit action name (outbox.retryMatching, failures.retryGroup …) and extra target ids (the group). */
  action: string;
  extraTargetIds?: string[];
  dryRunCount?: number;
}

/**
 * Retry or discard every event matching the filter, server-side, in batches of `batchSize` (each
 * batch a short statement walking the id index downwards). Each batch commits with its own audit
 * row (its ids and affected count); the rows of one call share a correlation id, so the audit log
 * sums them. A call that matched nothing is recorded too.
 */
export async function actOnMatching(db: Db, filter: OutboxFilter, opts: MatchingAction, audit: AuditContext) {
  const allowed = opts.verb === "retry" ? ["failed", "dead"] : ["pending", "failed", "dead"];
  const statuses = (filter.status ?? allowed).filter((s) => allowed.includes(s));
  if (statuses.length === 0) {
    const names = opts.verb === "retry" ? "failed or dead" : "pending, failed or dead";
    throw new DomainError("bad_input", `Only ${names} events can be ${opts.verb === "retry" ? "retried" : "discarded"}: include one of them in the status filter (or leave it out)`);
  }
  const where = whereOf({ ...filter, status: statuses as OutboxViewStatus[] });
  const correlated = { ...audit, correlationId: audit.correlationId ?? randomUUID() };
  const note = discardNote(audit);
  const record = (tx: Tx, ids: string[], affected: number) =>
    recordOperatorAction(tx, {
      ...correlated,
      action: opts.action,
      targetKind: "outbox_event",
      targetIds: [...(opts.extraTargetIds ?? []), ...ids],
      filter,
      dryRunCount: opts.dryRunCount,
      affectedCount: affected,
    });
  let affected = 0;
  let batches = 0;
  let cursor: string | undefined;
  while (affected < opts.maxEvents) {
    const ids = (
      await db.outboxEvent.findMany({
        where: cursor ? { AND: [where, { id: { lt: cursor } }] } : where,
        orderBy: { id: "desc" },
        take: Math.min(opts.batchSize, opts.maxEvents - affected),
        select: { id: true },
      })
    ).map((r) => r.id);
    if (ids.length === 0) break;
    cursor = ids.at(-1);
    affected += await inTransaction(db, async (tx) => {
      const n = opts.verb === "retry" ? await retryEventsByIds(tx, ids) : await discardEventsByIds(tx, ids, note);
      await record(tx, ids, n);
      return n;
    });
    batches++;
  }
  if (batches === 0) await inTransaction(db, (tx) => record(tx, [], 0));
  if (affected > 0) await wakeRelays(db);
  return { affected, batches, capped: affected >= opts.maxEvents };
}

/** Retry every failed or dead event matching the filter (see actOnMatching). */
export async function retryMatching(db: Db, filter: OutboxFilter, opts: { batchSize: number; maxEvents: number }, audit: AuditContext) {
  const { affected, batches, capped } = await actOnMatching(db, filter, { ...opts, verb: "retry", action: "outbox.retryMatching" }, audit);
  return { retried: affected, batches, capped };
}

/**
 * Give up on an event for good: it is never published, and it stops blocking its aggregate (the
 * next event of the same file goes out). The reason is kept in last_error for the record.
 */
export async function discardEvent(db: Db, id: string, audit: AuditContext) {
  return inTransaction(db, async (tx) => {
    const n = await discardEventsByIds(tx, [id], discardNote(audit));
    if (n === 0) await explainRefusal(db, id, "discarded", "pending, failed or dead");
    await recordOperatorAction(tx, { ...audit, action: "outbox.discard", targetKind: "outbox_event", targetIds: [id], affectedCount: n });
    await wakeRelays(db);
    return { id, status: "discarded" as const };
  });
}
