import type { Db } from "../../platform/db/client";
import { afterCommit, inTransaction, type Tx } from "../../platform/db/transaction";
import { DomainError, notFound } from "../../platform/errors";
import { recordAfterEffect, recordOperatorAction, type AuditContext } from "../audit";
import type { SagaRegistry } from "./definition";
import type { SagaEngineDeps } from "./engine";
import { dispatchOptionsFor, errorText, leaseMsFor } from "./policy";
import { readContext, type SagaContext, type SagaDispatcher, type SagaStatus, type StepJob } from "./types";

/**
 * Operator actions on one saga. Each reads the saga, decides, and writes with
 * `UPDATE … WHERE id = $id AND version = $seen`; if a worker moved the saga in between, the
 * action reads again and re-decides (a few times), so an operator never overwrites a step's result.
 * Every action that changes a saga writes its audit row in the transaction of that change.
 */

const conflict = (message: string) => new DomainError("conflict", message);

/**
 * An abort told its marks were written beforehand (a bulk batch marks before its transaction
 * begins) met a saga generation they do not cover: it writes nothing, and the caller marks again.
 */
export class AbortNotMarkedError extends DomainError {
  constructor(sagaId: string, generation: number) {
    super("precondition_failed", `Saga ${sagaId} (generation ${generation}) was not marked for abort before the transaction`, undefined, { transient: true });
    this.name = "AbortNotMarkedError";
  }
}

/** The key of one saga generation in a set of written abort marks. */
export const abortMarkId = (sagaId: string, generation: number) => `${sagaId}_g${generation}`;

/** How one saga stands after a resume queued (or found) its current step's job. */
export interface ResumeOutcome {
  status: SagaStatus;
  stepIndex: number;
  redispatched: boolean;
}
const MAX_RACES = 5;

interface Loaded {
  id: string;
  type: string;
  status: SagaStatus;
  currentStep: number;
  version: number;
  context: SagaContext;
}

export function createSagaOperations(deps: { db: Db; registry: SagaRegistry; dispatcher: SagaDispatcher; logger?: SagaEngineDeps["logger"] }) {
  const { db, registry, dispatcher } = deps;

  /**
   * Queue a step once the operator's write has committed: never inside the transaction (a keyed
   * action runs in the idempotency middleware's), where the job could run before the row it reads
   * is visible, or outlive a write that rolled back, and where waiting for Redis would hold a
   * pooled connection. If Redis does not take it, the answer stands: the saga is running or
   * compensating in PostgreSQL, and the sweeper queues its current step.
   */
  function queueAfterCommit(job: StepJob, how: "dispatch" | "ensure") {
    const def = registry.get(job.sagaType);
    if (!def) return Promise.resolve();
    return afterCommit(async () => {
      try {
        await dispatcher[how](job, dispatchOptionsFor(def, job.stepIndex));
      } catch (error) {
        deps.logger?.warn({ err: errorText(error), sagaId: job.sagaId }, "could not queue the saga step after an operator action; the sweeper will");
      }
    });
  }

  async function load(id: string): Promise<Loaded> {
    const row = await db.sagaInstance.findUnique({
      where: { id },
      select: { id: true, type: true, status: true, currentStep: true, version: true, context: true },
    });
    if (!row) throw notFound(`Saga ${id} was not found`);
    return { ...row, context: readContext(row.context) };
  }

  function definitionOf(saga: Loaded) {
    const def = registry.get(saga.type);
    if (!def) throw new DomainError("precondition_failed", `Saga type ${saga.type} is not known to this server, so it cannot be driven from here`);
    return def;
  }

  /** Guarded write: true if the saga was still at the version we decided on. */
  async function write(saga: Loaded, data: { status: SagaStatus; currentStep: number; context: SagaContext; lastError?: string | null; finished: boolean }, client: Db | Tx = db) {
    const { count } = await client.sagaInstance.updateMany({
      where: { id: saga.id, version: saga.version },
      data: {
        status: data.status,
        currentStep: data.currentStep,
        context: data.context as object,
        ...(data.lastError !== undefined ? { lastError: data.lastError } : {}),
        finishedAt: data.finished ? new Date() : null,
        version: { increment: 1 },
      },
    });
    return count === 1;
  }

  /** The audit row of an action on one saga, in the action's transaction. */
  function audited(tx: Tx, audit: AuditContext, action: string, id: string) {
    return recordOperatorAction(tx, { ...audit, action, targetKind: "saga", targetIds: [id], affectedCount: 1 });
  }

  /** How long an abort mark lives: past every pre-claim taken before the abort. */
  function abortMarkTtlMs(type: string) {
    const def = registry.get(type);
    // A job uses its pre-claim for at most half a lease after it was taken: twice the longest lease
    // (plus a minute of clock skew) outlives every pre-claim taken before this abort.
    return def ? 2 * Math.max(...def.steps.map((_, i) => leaseMsFor(def, i))) + 60_000 : 3_600_000;
  }

  const markRefused = (what: string) =>
    new DomainError(
      "precondition_failed",
      `${what} was not aborted: the step queue (Redis) did not answer, so a step about to start could not be stopped. Try again once Redis is reachable.`,
      undefined,
      { transient: true },
    );

  /**
   * Mark the abort where the step runners look before using a pre-claim (see
   * SagaDispatcher.markAbort). If it cannot be marked, the abort is not written: a pre-claimed step
   * could otherwise start after it. The operator sees why and tries again.
   */
  async function markAbort(saga: Loaded) {
    try {
      await dispatcher.markAbort({ sagaId: saga.id, generation: saga.context.generation }, abortMarkTtlMs(saga.type));
    } catch (error) {
      deps.logger?.warn({ err: errorText(error), sagaId: saga.id }, "could not mark the saga's abort in Redis; abort refused");
      throw markRefused(`Saga ${saga.id}`);
    }
  }

  async function retrying<T>(id: string, attempt: (saga: Loaded) => Promise<T | null>): Promise<T> {
    for (let i = 0; i < MAX_RACES; i += 1) {
      const result = await attempt(await load(id));
      if (result !== null) return result;
    }
    // Transient: the same request may succeed when sent again, so it is never stored for replay.
    throw new DomainError("conflict", `Saga ${id} kept changing while we acted on it; look at its timeline and try again`, undefined, { transient: true });
  }

  /**
   * The Redis half of a resume: queue the saga's current step unless a live job has it. Separate
   * so a bulk batch can do it for every saga before its transaction begins (no row lock waits on
   * Redis) and record the resumes inside it.
   */
  async function queueCurrentStep(id: string): Promise<ResumeOutcome> {
    const saga = await load(id);
    if (saga.status !== "running" && saga.status !== "compensating") {
      throw conflict(`Saga ${id} is ${saga.status}; only a running or compensating saga can be resumed (a failed one: retry its step)`);
    }
    const def = definitionOf(saga);
    const job: StepJob = {
      sagaId: id,
      sagaType: saga.type,
      phase: saga.status === "running" ? "execute" : "compensate",
      stepIndex: saga.currentStep,
      generation: saga.context.generation,
    };
    const redispatched = await dispatcher.ensure(job, dispatchOptionsFor(def, saga.currentStep)).catch((err: unknown) => {
      // Redis slow or gone: the saga is unchanged in PostgreSQL, so this is "try again", not a bug (503).
      throw new DomainError(
        "unavailable",
        `Redis did not take the step job of saga ${id} in time; nothing changed. Try again in a few seconds (the sweeper also re-queues a stuck step once Redis answers)`,
        undefined,
        { transient: true, cause: err },
      );
    });
    return { status: saga.status, stepIndex: saga.currentStep, redispatched };
  }

  /** The audit row of a resume whose effect (queueCurrentStep) happened: a failed dispatch threw first, no row. */
  async function recordResume(id: string, audit: AuditContext, outcome: ResumeOutcome) {
    await recordAfterEffect(db, { ...audit, action: "saga.resume", targetKind: "saga", targetIds: [id], affectedCount: outcome.redispatched ? 1 : 0 });
  }

  return {
    /**
     * Compensate now. A step in flight is let finish (killing it half-way would leave its side
     * effect unknown); the saga then turns around, undoing that step too. Otherwise compensation
     * starts at once from the last completed step. The saga ends `aborted`.
     */
    abort(id: string, reason: string, audit: AuditContext, opts: { marked?: ReadonlySet<string> } = {}) {
      return retrying(id, async (loaded) => {
        // Mark the abort beside the step jobs before writing it: a job whose step the previous
        // finish pre-claimed checks the mark instead of PostgreSQL before it starts (engine.ts,
        // noAbortSince), so the mark must exist before the abort can be seen as done. `marked`: the
        // caller wrote the marks already (markAborts), before opening the transaction it runs us in.
        if (loaded.status === "running" && !loaded.context.abortRequested) {
          if (!opts.marked) await markAbort(loaded);
          else if (!opts.marked.has(abortMarkId(id, loaded.context.generation))) throw new AbortNotMarkedError(id, loaded.context.generation);
        }
        return inTransaction(db, async (tx) => {
          // The saga row lock orders this decision with step claims (which take it too): a step is
          // either claimed before (we see it in flight) or its claim finds the saga compensating.
          const locked = await tx.$queryRaw<Array<{ version: number }>>`SELECT version FROM saga_instance WHERE id = ${id}::uuid FOR UPDATE`;
          if (locked[0]?.version !== loaded.version) return null; // moved since we read it: read again
          const saga = loaded;
          if (saga.status !== "running") throw conflict(`Saga ${id} is ${saga.status}; only a running saga can be aborted`);
          if (saga.context.abortRequested) {
            await audited(tx, audit, "saga.abort", id);
            return { status: saga.status, abortRequested: true, compensateFrom: null as number | null };
          }
          const def = definitionOf(saga);
          const lastError = `Aborted by an operator: ${reason}`;
          const log = await tx.sagaStepLog.findUnique({
            where: { sagaId_stepIndex_phase: { sagaId: id, stepIndex: saga.currentStep, phase: "execute" } },
            select: { status: true, startedAt: true },
          });
          const inFlight = log?.status === "running" && Date.now() - log.startedAt.getTime() < leaseMsFor(def, saga.currentStep);
          const context = { ...saga.context, abortRequested: true };
          if (inFlight) {
            if (!(await write(saga, { status: "running", currentStep: saga.currentStep, context, lastError, finished: false }, tx))) return null;
            await audited(tx, audit, "saga.abort", id);
            return { status: "running" as SagaStatus, abortRequested: true, compensateFrom: null as number | null };
          }
          const from = saga.currentStep - 1;
          // Nothing before a fork's first step is this saga's to undo.
          const nothingToUndo = from < (saga.context.startStep ?? 0);
          const status: SagaStatus = nothingToUndo ? "aborted" : "compensating";
          if (!(await write(saga, { status, currentStep: Math.max(from, 0), context, lastError, finished: nothingToUndo }, tx))) return null;
          await audited(tx, audit, "saga.abort", id);
          return { status, abortRequested: true, compensateFrom: nothingToUndo ? null : from };
        });
      }).then(async ({ compensateFrom, ...result }) => {
        // Queued after the commit, so the compensation job never finds the saga still running. When
        // the abort joined a caller's transaction (a keyed mutation), that is after the caller's commit.
        if (compensateFrom !== null) {
          const saga = await load(id); // for its type and generation (the abort does not change them)
          await queueAfterCommit({ sagaId: id, sagaType: saga.type, phase: "compensate", stepIndex: compensateFrom, generation: saga.context.generation }, "dispatch");
        }
        return result;
      });
    },

    /** A saga whose compensation failed (`failed`): try that compensation again, with a fresh retry budget. */
    retryStep(id: string, audit: AuditContext) {
      return retrying(id, (saga) => inTransaction(db, async (tx) => {
        if (saga.status !== "failed") throw conflict(`Saga ${id} is ${saga.status}; only a failed saga has a step to retry`);
        definitionOf(saga);
        if (!(await write(saga, { status: "compensating", currentStep: saga.currentStep, context: saga.context, finished: false }, tx))) return null;
        await audited(tx, audit, "saga.retryStep", id);
        await queueAfterCommit({ sagaId: id, sagaType: saga.type, phase: "compensate", stepIndex: saga.currentStep, generation: saga.context.generation }, "ensure");
        return { status: "compensating" as SagaStatus, stepIndex: saga.currentStep };
      }));
    },

    /**
     * A running or compensating saga that looks stuck: queue its current step if no job for it is
     * alive. It writes nothing, so it needs no transaction: its router opts out of Idempotency-Key
     * (idempotent by nature), and the Redis round trips never run while a connection is held.
     */
    async resume(id: string, audit: AuditContext) {
      const outcome = await queueCurrentStep(id);
      await recordResume(id, audit, outcome);
      return outcome;
    },

    queueCurrentStep,
    recordResume,

    /**
     * Write the abort marks of every running saga among `ids` in one round trip, before the caller
     * opens the transaction it aborts them in (abort with `marked`). Returns the marked generations.
     * A mark without its abort (the batch rolls back, the saga moves on) only sends a pre-claimed
     * step through the real claim, which reads PostgreSQL: harmless.
     */
    async markAborts(ids: readonly string[]): Promise<ReadonlySet<string>> {
      const rows = await db.sagaInstance.findMany({ where: { id: { in: [...ids] }, status: "running" }, select: { id: true, type: true, context: true } });
      const marks = rows
        .map((r) => ({ id: r.id, type: r.type, context: readContext(r.context) }))
        .filter((r) => !r.context.abortRequested)
        .map((r) => ({ saga: { sagaId: r.id, generation: r.context.generation }, ttlMs: abortMarkTtlMs(r.type) }));
      try {
        await dispatcher.markAborts(marks);
      } catch (error) {
        deps.logger?.warn({ err: errorText(error), sagas: marks.length }, "could not mark the sagas' aborts in Redis; aborts refused");
        throw markRefused(`None of ${marks.length} sagas`);
      }
      return new Set(marks.map((m) => abortMarkId(m.saga.sagaId, m.saga.generation)));
    },

    /**
     * Run the saga forward again from its first step that is not in effect, skipping the steps that
     * succeeded and were not undone. For `failed`, `compensated` and `aborted` sagas (e.g. after an
     * outage outlasted the retries). A new generation gives the re-run steps new execution ids.
     */
    redrive(id: string, audit: AuditContext) {
      return retrying(id, (saga) => inTransaction(db, async (tx) => {
        if (!["failed", "compensated", "aborted"].includes(saga.status)) {
          throw conflict(`Saga ${id} is ${saga.status}; only failed, compensated or aborted sagas can be redriven`);
        }
        const def = definitionOf(saga);
        const logs = await db.sagaStepLog.findMany({ where: { sagaId: id }, select: { stepIndex: true, phase: true, status: true } });
        const inEffect = (index: number) =>
          logs.some((l) => l.stepIndex === index && l.phase === "execute" && l.status === "succeeded") &&
          !logs.some((l) => l.stepIndex === index && l.phase === "compensate" && (l.status === "succeeded" || l.status === "skipped"));
        // A fork's steps before its start are the original's, in effect or not: never re-run here.
        let from = saga.context.startStep ?? 0;
        while (from < def.steps.length && inEffect(from)) from += 1;
        if (from >= def.steps.length) throw conflict(`Every step of saga ${id} is in effect; there is nothing to redrive`);
        const context: SagaContext = {
          generation: saga.context.generation + 1,
          outputs: saga.context.outputs,
          ...(saga.context.startStep ? { startStep: saga.context.startStep } : {}),
        };
        if (!(await write(saga, { status: "running", currentStep: from, context, lastError: null, finished: false }, tx))) return null;
        await audited(tx, audit, "saga.redrive", id);
        await queueAfterCommit({ sagaId: id, sagaType: saga.type, phase: "execute", stepIndex: from, generation: context.generation }, "dispatch");
        return { status: "running" as SagaStatus, fromStep: from, skipped: from };
      }));
    },
  };
}

export type SagaOperations = ReturnType<typeof createSagaOperations>;
