import type { Db, Prisma } from "../../platform/db/client";
import { inTransaction, type Tx } from "../../platform/db/transaction";

/**
 * The operator audit log: one append-only row per operator action, with who, what, on which ids or
 * by which filter, how many rows a dry run counted and how many were touched, the reason typed,
 * and the outcome. Generic: it knows nothing of outboxes or sagas, only "an actor did an action".
 *
 * The invariant is "an audit row exists exactly when the action committed". So the row is written
 * by the action's OWN transaction: `recordOperatorAction` takes the transaction client (never the
 * pooled client) and refuses anything else at run time too. If the action rolls back, its audit
 * row goes with it; if the audit insert fails, the action rolls back. Actions with no PostgreSQL
 * write to share (a Redis cache flush) record after the fact in a transaction of their own, once
 * the effect happened — see recordAfterEffect.
 *
 * The table refuses UPDATE, DELETE and TRUNCATE for every role (trigger in the migration
 * `operator_audit`): nothing in the app can edit or erase the record.
 */

/** Who acted: the user id and the email at that moment (kept even if the account changes later). */
export interface OperatorActor {
  id: string | null;
  email: string;
}

/** What the router knows about the request an action comes from; passed down to the domain. */
export interface AuditContext {
  actor: OperatorActor;
  /** What the operator typed in the confirm dialog (optional). */
  reason?: string | null;
  /** The request's correlation id (X-Request-Id / X-Correlation-Id), or a bulk operation's id. */
  correlationId?: string | null;
}

export const auditOutcomes = ["succeeded", "cancelled", "failed"] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export interface OperatorActionEntry extends AuditContext {
  /** `<area>.<verb>`: outbox.retry, saga.abort, cache.flushPrefix, bulk.start … */
  action: string;
  /** What kind of thing the ids name: outbox_event, saga, cache, idempotency_key, bulk_operation … */
  targetKind: string;
  targetIds?: readonly string[];
  /** The filter an action by filter used (as the operator gave it). */
  filter?: unknown;
  /** How many rows the dry run said the action would touch. */
  dryRunCount?: number | null;
  /** How many rows the action did touch. */
  affectedCount?: number | null;
  outcome?: AuditOutcome;
}

export const ACTION_PATTERN = /^[a-z][a-zA-Z]*(\.[a-zA-Z]+)+$/;
const MAX_REASON = 2000;

/**
 * A Prisma transaction client, and only that: the pooled client (or the ambient-transaction proxy
 * of it) has `$connect`, a transaction client does not. Typed so passing `db` does not compile.
 */
export type TransactionOnly = Tx & { $connect?: never };

function assertTransactionClient(tx: unknown): asserts tx is Tx {
  const candidate = tx as { $connect?: unknown } | null;
  if (!candidate || typeof candidate !== "object" || typeof candidate.$connect === "function") {
    throw new Error("recordOperatorAction must be given the action's transaction client (tx), not the pooled client: the audit row must commit or roll back with the action");
  }
}

/** Dates and other JSON-unsafe values in a filter become what JSON.stringify makes of them. */
function toJson(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue;
}

/** Write one audit row inside the action's transaction. Returns the row's id. */
export async function recordOperatorAction(tx: TransactionOnly, entry: OperatorActionEntry): Promise<string> {
  assertTransactionClient(tx);
  if (!ACTION_PATTERN.test(entry.action)) throw new Error(`audit action must look like area.verb, got ${JSON.stringify(entry.action)}`);
  const reason = entry.reason?.trim() ? entry.reason.trim().slice(0, MAX_REASON) : null;
  const filter = toJson(entry.filter);
  const row = await tx.operatorAudit.create({
    data: {
      // The time the action was recorded (not the transaction's start, which now() would give).
      at: new Date(),
      actorId: entry.actor.id,
      actorEmail: entry.actor.email,
      action: entry.action,
      targetKind: entry.targetKind,
      targetIds: [...(entry.targetIds ?? [])],
      ...(filter !== undefined ? { filter } : {}),
      dryRunCount: entry.dryRunCount ?? null,
      affectedCount: entry.affectedCount ?? null,
      reason,
      correlationId: entry.correlationId ?? null,
      outcome: entry.outcome ?? "succeeded",
    },
    select: { id: true },
  });
  return row.id;
}

/**
 * For actions whose effect is outside PostgreSQL (a Redis flush, queueing a job): there is no
 * transaction to share, so the row is written in its own once the effect has happened. A failed
 * effect throws before this runs and leaves no row, as a rolled-back action does.
 */
export function recordAfterEffect(db: Db, entry: OperatorActionEntry): Promise<string> {
  return inTransaction(db, (tx) => recordOperatorAction(tx as TransactionOnly, entry));
}
