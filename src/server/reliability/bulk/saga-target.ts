import type { Db } from "../../platform/db/client";
import type { Tx } from "../../platform/db/transaction";
import { Prisma } from "../../db/generated/client";
import { DomainError } from "../../platform/errors";
import type { AuditContext } from "../audit";
import type { SagaOperations } from "../saga/operations";
import { sagaBulkConditions, sagaStatusesFor, type SagaBulkAction, type SagaBulkFilter } from "./saga-filter";
import { countBelowCap, DRY_RUN_SAMPLE_SIZE } from "./dry-run-count";

/**
 * Bulk actions on sagas: the saga side of the bulk contract. Selecting is by the saga filter over
 * `saga_instance` in id order; acting is the one-saga operator operations (saga/operations.ts),
 * called one saga after another inside the batch's transaction, which they join: each saga's
 * guarded write and its own audit row commit with the batch's cursor, or roll back with it.
 */

/** What a bulk run on sagas needs from the saga service: the one-saga operations it repeats. */
export type BulkSagaActions = Pick<SagaOperations, "redrive" | "abort" | "resume">;


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
export async function selectSagaBatch(tx: Tx, action: SagaBulkAction, filter: SagaBulkFilter, page: { cursor: string | null; upperId: string; batchSize: number }) {
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

/** Act on each saga of a batch; returns how many the action changed. */
export async function actOnSagas(sagas: BulkSagaActions, action: SagaBulkAction, ids: readonly string[], audit: AuditContext) {
  let affected = 0;
  for (const id of ids) {
    try {
      if (action === "saga.redrive") await sagas.redrive(id, audit);
      else if (action === "saga.abort") await sagas.abort(id, audit.reason ?? "bulk abort", audit);
      else if (!(await sagas.resume(id, audit)).redispatched) continue; // its step had a live job: nothing to do
      affected += 1;
    } catch (error) {
      if (!skippable(error)) throw error;
    }
  }
  return affected;
}
