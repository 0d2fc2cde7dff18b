import type { Db } from "../../platform/db/client";
import { Prisma } from "../../db/generated/client";
import { afterCommit, inTransaction, type Tx } from "../../platform/db/transaction";
import { recordOperatorAction, type AuditContext } from "../audit";
import { DomainError, notFound } from "../../platform/errors";
import { discardEventsByIds, discardNote, retryEventsByIds } from "../outbox/operations";
import { uuidv7Floor } from "../outbox/queries";
import { DRY_RUN_COUNT_CAP, type BulkRequest, type BulkStart, type BulkTarget } from "./contract";
import { bulkConditions, parseStoredFilter, statusesFor, type BulkAction, type BulkFilter } from "./filter";
import { parseStoredSagaFilter, type SagaBulkAction } from "./saga-filter";
import { actOnSagas, BatchNotPreparedError, dryRunSagaBulk, prepareSagaBatch, preparedPrefix, refuseEmptySagaFilter, selectSagaBatch, type BulkSagaActions, type PreparedSagaBatch } from "./saga-target";
import { countBelowCap, DRY_RUN_SAMPLE_SIZE } from "./dry-run-count";

/**
 * Bulk operator actions by filter: a dry run says what a filter would touch (count and sample);
 * `start` records the operation (and its audit row) and queues its job; the worker runs it in
 * keyset batches, each batch ONE transaction that acts on its rows, moves the operation's cursor
 * and progress, and writes the batch's audit row. Everything the run needs is in PostgreSQL, so a
 * worker killed at any instruction loses at most an uncommitted batch, and the next run continues
 * from the committed cursor: every row is selected by exactly one committed batch.
 *
 * Two targets share all of this (bulk/contract.ts): outbox events (here) and sagas (saga-target.ts).
 */

export { DRY_RUN_COUNT_CAP };
/** New rows (ids above the bound) are left alone: a run acts on what existed when it was started. */
const upperBound = () => uuidv7Floor(new Date(Date.now() + 1));

function refuseEmpty(action: BulkAction, filter: BulkFilter) {
  if (statusesFor(action, filter).length === 0) {
    throw new DomainError("bad_input", `${action === "outbox.retry" ? "A retry applies to failed or dead events" : "A discard applies to pending, failed or dead events"}: the status filter leaves none`);
  }
}

type SampleRow = { id: string; event_type: string; aggregate_type: string; aggregate_id: string; status: string; attempts: number; last_error: string | null; created_at: Date };

export async function dryRunBulk(db: Db, action: BulkAction, filter: BulkFilter) {
  refuseEmpty(action, filter);
  const where = bulkConditions(action, filter);
  const upper = upperBound();
  const sample = await db.$queryRaw<SampleRow[]>`
    SELECT id::text, event_type, aggregate_type, aggregate_id, status::text, attempts, last_error, created_at
    FROM outbox_event WHERE ${where} AND id < ${upper}::uuid ORDER BY id DESC LIMIT ${DRY_RUN_SAMPLE_SIZE}`;
  const { count, capped } = await countBelowCap(db, "outbox_event", where, upper);
  return {
    target: "outbox" as const,
    action,
    count,
    /** True when more rows match than were counted (the count is a lower bound). */
    capped,
    sample: sample.map((r) => ({ id: r.id, eventType: r.event_type, aggregateType: r.aggregate_type, aggregateId: r.aggregate_id, status: r.status, attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at })),
  };
}

/** The dry run of any target's request. */
export type BulkDryRun = Awaited<ReturnType<typeof dryRunBulk>> | Awaited<ReturnType<typeof dryRunSagaBulk>>;
export async function dryRunBulkRequest(db: Db, request: BulkRequest): Promise<BulkDryRun> {
  if (request.target === "saga") return dryRunSagaBulk(db, request.action, request.filter, upperBound());
  return dryRunBulk(db, request.action, request.filter);
}

function refuseBadRequest(request: BulkRequest, reason: string | null | undefined) {
  if (request.target === "outbox") return refuseEmpty(request.action, request.filter);
  refuseEmptySagaFilter(request.action, request.filter);
  // An abort undoes work people asked for: whoever reads the sagas' timelines must learn why.
  if (request.action === "saga.abort" && !reason?.trim()) throw new DomainError("bad_input", "A bulk abort needs a reason: it is recorded on every aborted saga and in the audit log");
}

export interface BulkQueue {
  /** Queue a run of the operation (at-least-once; a duplicate run is harmless: batches lock the row). */
  enqueue(operationId: string): Promise<void>;
}

/** Record the operation and its audit row in one transaction; queue its job once that commits. */
export async function startBulk(
  deps: { db: Db; queue: BulkQueue; logger?: { warn(obj: object, msg: string): void } },
  input: BulkStart,
  audit: AuditContext,
) {
  refuseBadRequest(input, audit.reason);
  return inTransaction(deps.db, async (tx) => {
    const op = await tx.bulkOperation.create({
      data: {
        target: input.target,
        action: input.action,
        filter: JSON.parse(JSON.stringify(input.filter)) as Prisma.InputJsonValue,
        dryRunCount: input.dryRunCount,
        batchSize: input.batchSize,
        upperId: upperBound(),
        actorId: audit.actor.id,
        actorEmail: audit.actor.email,
        reason: audit.reason?.trim() || null,
      },
    });
    await recordOperatorAction(tx, {
      ...audit,
      correlationId: op.id,
      action: "bulk.start",
      targetKind: "bulk_operation",
      targetIds: [op.id],
      filter: { target: input.target, action: input.action, ...input.filter },
      dryRunCount: input.dryRunCount,
    });
    // If Redis does not take it, the operation waits in PostgreSQL and the worker's sweeper queues it.
    await afterCommit(async () => {
      try {
        await deps.queue.enqueue(op.id);
      } catch (error) {
        deps.logger?.warn({ err: error instanceof Error ? error.message : String(error), operationId: op.id }, "could not queue the bulk operation; the sweeper will");
      }
    });
    return view(op);
  });
}

type OperationRow = Awaited<ReturnType<Db["bulkOperation"]["findUniqueOrThrow"]>>;

function view(op: OperationRow) {
  const finished = op.status === "completed" || op.status === "cancelled" || op.status === "failed";
  return {
    ...op,
    target: op.target as BulkTarget,
    filter: op.filter as Record<string, unknown>,
    finished,
    /** Share of the dry-run count examined so far (1 once finished). */
    progress: finished ? 1 : op.dryRunCount === 0 ? 0 : Math.min(1, op.examined / op.dryRunCount),
  };
}

export async function getBulk(db: Db, id: string) {
  const op = await db.bulkOperation.findUnique({ where: { id } });
  if (!op) throw notFound(`Bulk operation ${id} was not found`);
  return view(op);
}

export async function listBulk(db: Db, page: { cursor?: string; limit: number }) {
  const rows = await db.bulkOperation.findMany({ where: page.cursor ? { id: { lt: page.cursor } } : {}, orderBy: { id: "desc" }, take: page.limit + 1 });
  const items = rows.slice(0, page.limit).map(view);
  return { items, nextCursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}

/** Finish an operation (completed or cancelled) with its summary row in the audit log. */
async function finish(tx: Tx, op: OperationRow, status: "completed" | "cancelled", audit: AuditContext) {
  await tx.bulkOperation.update({ where: { id: op.id }, data: { status, finishedAt: new Date() } });
  await recordOperatorAction(tx, {
    ...audit,
    correlationId: op.id,
    action: status === "completed" ? "bulk.complete" : "bulk.cancelled",
    targetKind: "bulk_operation",
    targetIds: [op.id],
    filter: { target: op.target, action: op.action, ...(op.filter as object) },
    dryRunCount: op.dryRunCount,
    affectedCount: op.affected,
    outcome: status === "completed" ? "succeeded" : "cancelled",
  });
}

const actorOf = (op: OperationRow): AuditContext => ({ actor: { id: op.actorId, email: op.actorEmail }, reason: op.reason });

/**
 * Cancel: a pending operation ends at once; a running one at its next batch boundary (the batch
 * in flight commits whole or not at all). A finished one cannot be cancelled.
 */
export async function cancelBulk(db: Db, id: string, audit: AuditContext) {
  return inTransaction(db, async (tx) => {
    const [locked] = await tx.$queryRaw<Array<{ id: string }>>`SELECT id FROM bulk_operation WHERE id = ${id}::uuid FOR UPDATE`;
    if (!locked) throw notFound(`Bulk operation ${id} was not found`);
    const op = await tx.bulkOperation.findUniqueOrThrow({ where: { id } });
    if (op.status !== "pending" && op.status !== "running") throw new DomainError("conflict", `Bulk operation ${id} is ${op.status}; only a pending or running one can be cancelled`);
    await recordOperatorAction(tx, { ...audit, correlationId: id, action: "bulk.cancel", targetKind: "bulk_operation", targetIds: [id], affectedCount: op.affected });
    if (op.status === "pending") await finish(tx, op, "cancelled", actorOf(op));
    else await tx.bulkOperation.update({ where: { id }, data: { cancelRequested: true } });
    return view(await tx.bulkOperation.findUniqueOrThrow({ where: { id } }));
  });
}

export type BatchOutcome = { done: true; status: string } | { done: false; examined: number; affected: number };

/** What a runner acts with, beyond PostgreSQL: the saga operations (a runner without them refuses saga runs). */
export interface BulkActors {
  sagas?: BulkSagaActions;
}

const sagaActorsOf = (actors: BulkActors) => {
  if (!actors.sagas) throw new Error("this bulk runner was started without the saga operations, so it cannot run a bulk action on sagas");
  return actors.sagas;
};

/**
 * A saga batch's Redis effects, before its transaction (saga-target.ts, PreparedSagaBatch): read
 * the operation and its next batch without locks, and prepare that batch. Null when there is
 * nothing to prepare (an event batch, a finished or cancelled operation).
 */
async function prepareNextBatch(db: Db, id: string, actors: BulkActors): Promise<PreparedSagaBatch | null> {
  const op = await db.bulkOperation.findUnique({ where: { id } });
  if (!op || op.target !== "saga" || (op.status !== "pending" && op.status !== "running") || op.cancelRequested) return null;
  const sagas = sagaActorsOf(actors);
  const action = op.action as SagaBulkAction;
  if (action === "saga.redrive") return prepareSagaBatch(sagas, action, []); // nothing to do before it
  const ids = await selectSagaBatch(db, action, parseStoredSagaFilter(op.filter), { cursor: op.cursor, upperId: op.upperId, batchSize: op.batchSize });
  return prepareSagaBatch(sagas, action, ids);
}

/** Select the next batch after the cursor and act on it; the ids, how many changed, and the audit target kind. */
async function actOnNextBatch(tx: Tx, op: OperationRow, actors: BulkActors, prepared: PreparedSagaBatch | null) {
  const audit = { ...actorOf(op), correlationId: op.id };
  const page = { cursor: op.cursor, upperId: op.upperId, batchSize: op.batchSize };
  if (op.target === "saga") {
    const sagas = sagaActorsOf(actors);
    const action = op.action as SagaBulkAction;
    // Prepared by the read before the transaction; if that read saw another state (the operation
    // was cancelled, then not), the batch is prepared again.
    if (!prepared || prepared.action !== action) throw new BatchNotPreparedError("the batch was not prepared");
    const ids = preparedPrefix(await selectSagaBatch(tx, action, parseStoredSagaFilter(op.filter), page), prepared);
    return { ids, kind: "saga", affected: ids.length ? await actOnSagas(sagas, prepared, ids, audit) : 0, notify: false };
  }
  const action = op.action as BulkAction;
  const after = op.cursor ? Prisma.sql`AND id > ${op.cursor}::uuid` : Prisma.empty;
  const rows = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id::text FROM outbox_event WHERE ${bulkConditions(action, parseStoredFilter(op.filter))} ${after} AND id < ${op.upperId}::uuid ORDER BY id LIMIT ${op.batchSize}`;
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return { ids, kind: "outbox_event", affected: 0, notify: false };
  const affected = action === "outbox.retry" ? await retryEventsByIds(tx, ids) : await discardEventsByIds(tx, ids, discardNote(actorOf(op)));
  return { ids, kind: "outbox_event", affected, notify: action === "outbox.retry" && affected > 0 };
}

/** How many times a batch that moved under its preparation is prepared again before the run fails (and its job retries). */
const PREPARE_ATTEMPTS = 5;

/**
 * Run ONE batch of an operation, in one transaction: lock the operation row (so two runners of the
 * same operation take turns and each reads the other's committed cursor), select the next ids
 * after the cursor, act on them, move the cursor, count, and write the batch's audit row. A saga
 * batch's Redis effects come first, outside the transaction (prepareNextBatch), so no lock is held
 * while Redis is slow; the batch then acts only on what was prepared.
 */
export async function runBulkBatch(db: Db, id: string, actors: BulkActors = {}): Promise<BatchOutcome> {
  for (let attempt = 1; ; attempt += 1) {
    const prepared = await prepareNextBatch(db, id, actors);
    try {
      return await runPreparedBatch(db, id, actors, prepared);
    } catch (error) {
      if (!(error instanceof BatchNotPreparedError) || attempt >= PREPARE_ATTEMPTS) throw error;
    }
  }
}

async function runPreparedBatch(db: Db, id: string, actors: BulkActors, prepared: PreparedSagaBatch | null): Promise<BatchOutcome> {
  const outcome = await inTransaction(db, async (tx): Promise<BatchOutcome & { wake?: boolean }> => {
    const [locked] = await tx.$queryRaw<Array<{ id: string }>>`SELECT id FROM bulk_operation WHERE id = ${id}::uuid FOR UPDATE`;
    if (!locked) return { done: true, status: "missing" };
    const op = await tx.bulkOperation.findUniqueOrThrow({ where: { id } });
    if (op.status !== "pending" && op.status !== "running") return { done: true, status: op.status };
    if (op.cancelRequested) {
      await finish(tx, op, "cancelled", actorOf(op));
      return { done: true, status: "cancelled" };
    }
    const { ids, kind, affected, notify } = await actOnNextBatch(tx, op, actors, prepared);
    if (ids.length === 0) {
      await finish(tx, op, "completed", actorOf(op));
      return { done: true, status: "completed" };
    }
    await tx.bulkOperation.update({
      where: { id },
      data: {
        status: "running",
        startedAt: op.startedAt ?? new Date(),
        cursor: ids.at(-1)!,
        examined: { increment: ids.length },
        affected: { increment: affected },
        batches: { increment: 1 },
      },
    });
    await recordOperatorAction(tx, { ...actorOf(op), correlationId: id, action: "bulk.batch", targetKind: kind, targetIds: ids, affectedCount: affected });
    if (notify) await tx.$executeRaw`SELECT pg_notify('outbox_event', 'bulk')`; // delivered at commit
    return { done: false, examined: ids.length, affected };
  });
  return outcome;
}

/** Run an operation to its end (or until `shouldStop`), batch after batch. */
export async function runBulkOperation(db: Db, id: string, opts: { shouldStop?: () => boolean; actors?: BulkActors } = {}) {
  for (;;) {
    if (opts.shouldStop?.()) return { done: false as const };
    const outcome = await runBulkBatch(db, id, opts.actors);
    if (outcome.done) return outcome;
  }
}

/** Unfinished operations nothing has moved for `staleAfterMs`: their job was lost or their worker died. */
export async function staleBulkOperations(db: Db, staleAfterMs: number): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    SELECT id::text FROM bulk_operation
    WHERE status IN ('pending', 'running') AND updated_at < now() - ${staleAfterMs}::int * interval '1 millisecond'
    ORDER BY updated_at LIMIT 100`;
  return rows.map((r) => r.id);
}

/** A failed run (a bug, not a crash) ends the operation `failed` with the error, recorded. */
export async function failBulk(db: Db, id: string, error: string) {
  await inTransaction(db, async (tx) => {
    const op = await tx.bulkOperation.findUnique({ where: { id } });
    if (!op || (op.status !== "pending" && op.status !== "running")) return;
    await tx.bulkOperation.update({ where: { id }, data: { status: "failed", error: error.slice(0, 2000), finishedAt: new Date() } });
    await recordOperatorAction(tx, {
      ...actorOf(op),
      correlationId: id,
      action: "bulk.failed",
      targetKind: "bulk_operation",
      targetIds: [id],
      dryRunCount: op.dryRunCount,
      affectedCount: op.affected,
      outcome: "failed",
    });
  });
}
