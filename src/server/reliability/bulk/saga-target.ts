import type { Db } from "../../platform/db/client";
import type { Tx } from "../../platform/db/transaction";
import { Prisma } from "../../db/generated/client";
import { DomainError } from "../../platform/errors";
import type { AuditContext } from "../audit";
import { AbortNotMarkedError, type ResumeOutcome, type SagaOperations } from "../saga/operations";
import { sagaBulkConditions, sagaStatusesFor, type SagaBulkAction, type SagaBulkFilter } from "./saga-filter";
import { countBelowCap, DRY_RUN_SAMPLE_SIZE } from "./dry-run-count";

/**
 * Bulk actions on sagas: the saga side of the bulk contract. Selecting is by the saga filter over
 * `saga_instance` in id order; acting is the one-saga operator operations (saga/operations.ts),
 * called one saga after another inside the batch's transaction, which they join: each saga's
 * guarded write and its own audit row commit with the batch's cursor, or roll back with it.
 */

/** What a bulk run on sagas needs from the saga service: the one-saga operations it repeats. */
export type BulkSagaActions = Pick<SagaOperations, "redrive" | "abort" | "resume" | "markAborts" | "queueCurrentStep" | "recordResume">;

/**
 * A batch's Redis effects, done BEFORE its transaction begins: held row locks (the operation's,
 * the sagas') must never wait on Redis, which may hang for the dispatcher's whole deadline.
 * - abort: every selected running saga's abort mark, written in one round trip. The mark must
 *   precede the abort's write (saga/types.ts, markAbort), and it does: it precedes the whole batch.
 * - resume: each saga's step job queued (or found alive). A resume writes only its audit row,
 *   which the batch writes in its transaction; if that rolls back, a rerun queues nothing twice
 *   (a live job's id is the step's).
 * - redrive: nothing; its jobs are queued after the commit (afterCommit).
 * `ids` are the sagas prepared: the batch acts only on the ones it selects again under its lock.
 */
export type PreparedSagaBatch =
  | { action: "saga.redrive"; ids: null }
  | { action: "saga.abort"; ids: ReadonlySet<string>; marked: ReadonlySet<string> }
  | { action: "saga.resume"; ids: ReadonlySet<string>; resumed: ReadonlyMap<string, ResumeOutcome | "skipped"> };

/** The batch selected again under the lock was not the one prepared (another runner moved it, a saga moved on): prepare again. */
export class BatchNotPreparedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BatchNotPreparedError";
  }
}

export async function prepareSagaBatch(sagas: BulkSagaActions, action: SagaBulkAction, ids: readonly string[]): Promise<PreparedSagaBatch> {
  if (action === "saga.redrive") return { action, ids: null };
  if (action === "saga.abort") return { action, ids: new Set(ids), marked: await sagas.markAborts(ids) };
  const resumed = new Map<string, ResumeOutcome | "skipped">();
  for (const id of ids) {
    try {
      resumed.set(id, await sagas.queueCurrentStep(id));
    } catch (error) {
      if (!skippable(error)) throw error; // Redis did not take it: the batch fails before it begins
      resumed.set(id, "skipped");
    }
  }
  return { action, ids: new Set(ids), resumed };
}

/**
 * The ids selected under the lock that this batch may act on: the longest prefix of them that was
 * prepared (the cursor then stops at its end, so the rest is selected by a later batch).
 */
export function preparedPrefix(selected: readonly string[], prepared: PreparedSagaBatch): string[] {
  if (prepared.ids === null) return [...selected];
  const prepIds = prepared.ids;
  const cut = selected.findIndex((id) => !prepIds.has(id));
  const prefix = cut === -1 ? [...selected] : selected.slice(0, cut);
  if (selected.length > 0 && prefix.length === 0) throw new BatchNotPreparedError("the batch moved since it was prepared");
  return prefix;
}


export function refuseEmptySagaFilter(action: SagaBulkAction, filter: SagaBulkFilter) {
  if (sagaStatusesFor(action, filter).length === 0) {
    const applies = { "saga.redrive": "A redrive applies to failed, compensated or aborted sagas", "saga.abort": "An abort applies to running sagas", "saga.resume": "A resume applies to running or compensating sagas" }[action];
    throw new DomainError("bad_input", `${applies}: the status filter leaves none`);
  }
}

type SampleRow = { id: string; type: string; status: string; current_step: number; last_error: string | null; created_at: Date; updated_at: Date };

export async function dryRunSagaBulk(db: Db, action: SagaBulkAction, filter: SagaBulkFilter, upper: string) {
  refuseEmptySagaFilter(action, filter);
  const where = sagaBulkConditions(action, filter);
  const sample = await db.$queryRaw<SampleRow[]>`
    SELECT id::text, type, status::text, current_step, last_error, created_at, updated_at
    FROM saga_instance WHERE ${where} AND id < ${upper}::uuid ORDER BY id DESC LIMIT ${DRY_RUN_SAMPLE_SIZE}`;
  const { count, capped } = await countBelowCap(db, "saga_instance", where, upper);
  return {
    target: "saga" as const,
    action,
    count,
    capped,
    sample: sample.map((r) => ({ id: r.id, type: r.type, status: r.status, currentStep: r.current_step, lastError: r.last_error, createdAt: r.created_at, updatedAt: r.updated_at })),
  };
}

/** The next batch's saga ids after the cursor (keyset), below the operation's upper bound. */
export async function selectSagaBatch(tx: Tx | Db, action: SagaBulkAction, filter: SagaBulkFilter, page: { cursor: string | null; upperId: string; batchSize: number }) {
  const after = page.cursor ? Prisma.sql`AND id > ${page.cursor}::uuid` : Prisma.empty;
  const rows = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id::text FROM saga_instance WHERE ${sagaBulkConditions(action, filter)} ${after} AND id < ${page.upperId}::uuid ORDER BY id LIMIT ${page.batchSize}`;
  return rows.map((r) => r.id);
}

/**
 * A saga that moved out of the action's reach since it was selected (a worker finished it, another
 * operator acted) is skipped, as the one-saga action would refuse it. A transient refusal (a race
 * lost several times, Redis not answering an abort's mark) fails the batch instead: it rolls back
 * whole and the job runs it again.
 */
function skippable(error: unknown) {
  return error instanceof DomainError && !error.transient && (error.kind === "conflict" || error.kind === "precondition_failed" || error.kind === "not_found");
}

/** Act on each saga of a batch (prepared by prepareSagaBatch); returns how many the action changed. */
export async function actOnSagas(sagas: BulkSagaActions, prepared: PreparedSagaBatch, ids: readonly string[], audit: AuditContext) {
  let affected = 0;
  for (const id of ids) {
    try {
      if (prepared.action === "saga.redrive") await sagas.redrive(id, audit);
      else if (prepared.action === "saga.abort") await sagas.abort(id, audit.reason ?? "bulk abort", audit, { marked: prepared.marked });
      else {
        const outcome = prepared.resumed.get(id);
        if (!outcome || outcome === "skipped") continue;
        await sagas.recordResume(id, audit, outcome);
        if (!outcome.redispatched) continue; // its step had a live job: nothing to do
      }
      affected += 1;
    } catch (error) {
      // A saga redriven and running again since its mark: its new generation is unmarked.
      if (error instanceof AbortNotMarkedError) throw new BatchNotPreparedError(error.message);
      if (!skippable(error)) throw error;
    }
  }
  return affected;
}
