import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { Db } from "../../platform/db/client";
import { afterCommit, currentTransaction, inTransaction, type Tx } from "../../platform/db/transaction";
import { badInput } from "../../platform/errors";
import { workerIdentity } from "../../platform/worker-identity";
import { errorFingerprint } from "../failures/fingerprint";
import { PermanentStepError, stepPolicy, type SagaDefinition, type SagaRegistry } from "./definition";
import { dispatchOptionsFor, errorText, leaseMsFor, withTimeout } from "./policy";
import { applyStatement, claimStatement, startStatement, type ApplyRow, type ClaimRow, type Statement, type StartRow } from "./statements";
import { decide, phaseStatus, traceFieldsOf, type SagaSnapshot, type StepResult, type Transition } from "./transition";
import { executionIdFor, readContext, type PreClaim, type SagaContext, type SagaDispatcher, type SagaStatus, type StepJob } from "./types";

/**
 * The saga step runner (the pure transition rules are in transition.ts, the SQL in statements.ts).
 * Every step runs as one job (see worker/jobs/saga-runner.ts):
 *
 *   claim   — one statement: the saga must still be at this step in this phase (row-locked), and the
 *             step's log row is taken as a lease (status running, started_at = now, attempts + 1).
 *   run     — the step body, under its timeout.
 *   finish  — one statement: `UPDATE saga_instance … WHERE id = $id AND version = $seen` moves the
 *             saga on and records the step's result, if our lease is still ours. If the version moved
 *             (an operator aborted) or the lease was taken over (our lease ran out), the decision is
 *             taken again under a row lock from fresh state, so two workers never advance one saga twice.
 *   dispatch — after commit, the next step's job is queued. A crash between commit and dispatch
 *             leaves a saga with no job: the sweeper (`sweep`) finds it and queues it again.
 *
 * Pre-claim (the fast path): the finish statement also takes the next step's lease, and the next
 * job carries the lease's attempt and the saga's input/context. That job's FIRST delivery is the
 * only possible runner (one job per id; BullMQ's lock), so it skips the claim statement: a step
 * costs one statement instead of two. A redelivery (stalled worker, delayed retry) or a job whose
 * pre-claim is old claims for real, waiting out a lease another process may still hold; a first
 * delivery that is merely late re-takes its own pre-claim under the same attempt number (see the claim
 * statement in statements.ts).
 */

/** A job for a saga that does not exist yet may be from a start whose transaction has not committed. */
const UNCOMMITTED_START_WAIT_MS = 60_000;

export type StepOutcome =
  | { kind: "advanced"; status: SagaStatus; next: StepJob | null }
  | { kind: "stale"; reason: string }
  /** Not the final attempt: the caller re-queues with backoff (BullMQ: throw). */
  | { kind: "retry"; error: Error }
  /** Someone else holds the step (or the saga is not committed yet): try again at untilMs. */
  | { kind: "wait"; untilMs: number; reason: string };

export interface StepAttempt {
  /** Failed attempts before this one (BullMQ's attemptsMade). */
  attemptsMade: number;
  /**
   * True if this job was handed to a worker before (a stalled job after its worker died, or one put
   * back as delayed): only a first delivery may use the lease its previous step took for it.
   */
  redelivered?: boolean;
  maxAttempts: number;
  /** When the job was first queued (ms since epoch). */
  queuedAt: number;
}

/** Where a saga sweep goes on: after this (updated_at, id). */
export interface SweepCursor {
  updatedAt: Date;
  id: string;
}

export interface SweepResult {
  checked: number;
  redispatched: number;
  /** Sagas whose step could not be queued (skipped; the next pass over them tries again). */
  failed: number;
  /** The first few of those, for the log. */
  failures: Array<{ sagaId: string; error: string }>;
  /** Pass this as `after` to the next sweep; null when this one reached the last stuck saga. */
  next: SweepCursor | null;
}

/** A pg Pool (or anything with its query shape) for the hot statements; see `hot` below. */
export interface SqlPool {
  query<T>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: T[] }>;
}

export interface SagaEngineDeps {
  db: Db;
  sql?: SqlPool;
  registry: SagaRegistry;
  dispatcher: SagaDispatcher;
  logger?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** Sagas whose state is bigger than this go through a claim statement instead of riding in the job. */
const PRECLAIM_MAX_BYTES = 16 * 1024;

function approxJsonBytes(claimed: { input: unknown; context: unknown }, result: { output?: unknown }): number {
  return JSON.stringify(claimed.input).length + JSON.stringify(claimed.context).length + JSON.stringify(result.output ?? null).length;
}

export function createSagaEngine(deps: SagaEngineDeps) {
  const { db, registry, dispatcher } = deps;

  function definitionOf(type: string): SagaDefinition<unknown> {
    const def = registry.get(type);
    if (!def) throw new Error(`Saga type ${type} is not registered in this process`);
    return def;
  }

  /**
   * The two statements every step runs. With a pg pool (the runner passes one) they are named
   * prepared statements, planned once per connection: that doubled step throughput in the bench
   * over Prisma's raw queries, which are re-planned each time. In a transaction, Prisma's.
   */
  async function hot<T>(client: Db | Tx, statement: Statement): Promise<T[]> {
    if (deps.sql && client === db) return (await deps.sql.query<T>(statement)).rows;
    return client.$queryRawUnsafe<T[]>(statement.text, ...statement.values);
  }

  async function sagaAtVersion(sagaId: string, version: number): Promise<boolean> {
    const rows = await hot<{ one: number }>(db, {
      name: "saga_at_version",
      text: "SELECT 1 AS one FROM saga_instance WHERE id = $1::uuid AND version = $2::int",
      values: [sagaId, version],
    });
    return rows.length === 1;
  }

  /**
   * May this job use its pre-claim, i.e. has no operator aborted the saga since? The abort marks
   * the saga beside the step jobs (Redis) before it writes, so with a dispatcher that keeps marks
   * the answer costs one Redis read and no PostgreSQL statement: a step is one commit, its finish.
   * If the mark cannot be read (Redis slow or down), PostgreSQL
   * answers: the saga is still at the pre-claim's version.
   */
  async function noAbortSince(job: StepJob, pre: PreClaim): Promise<boolean> {
    try {
      return !(await dispatcher.abortMarked(job));
    } catch (error) {
      deps.logger?.warn({ err: errorText(error), sagaId: job.sagaId }, "could not read the saga's abort mark; asking PostgreSQL");
    }
    return sagaAtVersion(job.sagaId, pre.version);
  }

  /** Take the step's lease if the saga is still at it. Returns null if someone else has it or the saga moved. */
  async function claim(job: StepJob, def: SagaDefinition<unknown>, ownPreclaim: number | null = null): Promise<ClaimRow | null> {
    const rows = await hot<ClaimRow>(
      db,
      claimStatement({
        sagaId: job.sagaId,
        stepIndex: job.stepIndex,
        sagaStatus: phaseStatus(job.phase),
        generation: job.generation,
        logId: uuidv7(),
        stepName: def.steps[job.stepIndex]!.name,
        phase: job.phase,
        executionId: executionIdFor(job.sagaId, job.stepIndex, job.generation),
        leaseMs: leaseMsFor(def, job.stepIndex),
        ownPreclaimAttempt: ownPreclaim,
      }),
    );
    return rows[0] ?? null;
  }

  /** Why a claim failed: wait for a lease / an uncommitted start, or drop a stale job. */
  async function explainUnclaimed(job: StepJob, def: SagaDefinition<unknown>, attempt: StepAttempt): Promise<StepOutcome> {
    const saga = await db.sagaInstance.findUnique({
      where: { id: job.sagaId },
      select: { status: true, currentStep: true, context: true },
    });
    if (!saga) {
      if (Date.now() - attempt.queuedAt < UNCOMMITTED_START_WAIT_MS) {
        return { kind: "wait", untilMs: Date.now() + 250, reason: "saga not visible yet (start not committed)" };
      }
      return { kind: "stale", reason: "saga does not exist" };
    }
    if (saga.status !== phaseStatus(job.phase) || saga.currentStep !== job.stepIndex || readContext(saga.context).generation !== job.generation) {
      return { kind: "stale", reason: `saga is ${saga.status} at step ${saga.currentStep}` };
    }
    const log = await db.sagaStepLog.findUnique({
      where: { sagaId_stepIndex_phase: { sagaId: job.sagaId, stepIndex: job.stepIndex, phase: job.phase } },
      select: { status: true, startedAt: true },
    });
    if (log?.status === "running") {
      const until = log.startedAt.getTime() + leaseMsFor(def, job.stepIndex) + 50;
      return { kind: "wait", untilMs: Math.max(until, Date.now() + 50), reason: "another worker holds this step" };
    }
    return { kind: "stale", reason: `step already ${log?.status ?? "gone"}` };
  }

  /**
   * Apply a transition if the saga is still at `seenVersion` (and our lease is ours); null if it
   * moved. With `preclaimNext`, the next step's lease is taken in the same statement.
   */
  async function apply(
    client: Db | Tx,
    job: StepJob,
    seenVersion: number,
    myAttempt: number,
    t: Transition,
    result: StepResult,
    def: SagaDefinition<unknown>,
    preclaimNext = false,
    recordAttempt = true,
  ): Promise<ApplyRow | null> {
    const setOutput = job.phase === "execute" && result.ok;
    const stepName = def.steps[job.stepIndex]!.name;
    const next = preclaimNext ? t.next : null;
    const ran = recordAttempt ? result.ran : undefined;
    const rows = await hot<ApplyRow>(
      client,
      applyStatement({
        sagaId: job.sagaId,
        seenVersion,
        status: t.status,
        currentStep: t.currentStep,
        lastError: t.lastError,
        lastErrorFingerprint: t.lastError ? errorFingerprint({ message: t.lastError }) : null,
        terminal: t.terminal,
        recordOutput: setOutput,
        stepName,
        outputJson: JSON.stringify(result.output ?? null),
        abortRequested: t.abortRequested,
        logStatus: result.skipped ? "skipped" : result.ok ? "succeeded" : "failed",
        logError: result.error ?? null,
        stepIndex: job.stepIndex,
        phase: job.phase,
        myAttempt,
        preclaim: next
          ? {
              logId: uuidv7(),
              stepIndex: next.stepIndex,
              stepName: def.steps[next.stepIndex]!.name,
              phase: next.phase,
              executionId: executionIdFor(next.sagaId, next.stepIndex, next.generation),
              leaseMs: leaseMsFor(def, next.stepIndex),
            }
          : null,
        attempt: ran
          ? { id: uuidv7(), startedAt: new Date(ran.startedAt).toISOString(), durationMs: ran.durationMs, worker: workerIdentity, generation: job.generation }
          : null,
      }),
    );
    return rows[0] ?? null;
  }

  /** Keep one attempt in the step's history (outside APPLY_SQL: a retry, or a decision under lock). */
  async function recordAttempt(client: Db | Tx, job: StepJob, def: SagaDefinition<unknown>, myAttempt: number, result: StepResult) {
    if (!result.ran) return;
    await client.$executeRaw`
      INSERT INTO saga_step_attempt (id, saga_id, step_index, step_name, phase, generation, attempt, outcome, started_at, duration_ms, error, worker)
      VALUES (${uuidv7()}::uuid, ${job.sagaId}::uuid, ${job.stepIndex}, ${def.steps[job.stepIndex]!.name}, ${job.phase}::"SagaPhase", ${job.generation},
              ${myAttempt}, ${result.ok ? "succeeded" : "failed"}::"AttemptOutcome", ${new Date(result.ran.startedAt)}, ${result.ran.durationMs},
              ${result.error ?? null}, ${workerIdentity})`;
  }

  /**
   * The saga moved between our claim and our finish. Decide again from fresh state under a row lock:
   * if our lease was taken over (attempts moved on), we were a zombie and drop our result.
   */
  async function finishUnderLock(job: StepJob, def: SagaDefinition<unknown>, myAttempt: number, result: StepResult): Promise<StepOutcome> {
    return inTransaction(db, async (tx) => {
      const sagas = await tx.$queryRaw<Array<{ status: SagaStatus; current_step: number; version: number; context: unknown }>>`
        SELECT status, current_step, version, context FROM saga_instance WHERE id = ${job.sagaId}::uuid FOR UPDATE`;
      const row = sagas[0];
      if (!row) return { kind: "stale", reason: "saga deleted" } as const;
      const log = await tx.sagaStepLog.findUnique({
        where: { sagaId_stepIndex_phase: { sagaId: job.sagaId, stepIndex: job.stepIndex, phase: job.phase } },
        select: { attempts: true, status: true },
      });
      // The attempt ran whatever happens to its result: the history keeps it.
      await recordAttempt(tx, job, def, myAttempt, result);
      if (!log || log.attempts !== myAttempt || log.status !== "running") {
        return { kind: "stale", reason: "our lease on the step was taken over" } as const;
      }
      const saga: SagaSnapshot = { status: row.status, currentStep: row.current_step, version: row.version, context: readContext(row.context) };
      if (saga.status !== phaseStatus(job.phase) || saga.currentStep !== job.stepIndex || saga.context.generation !== job.generation) {
        // Record what really happened to the step for the timeline, but do not move the saga.
        await tx.sagaStepLog.update({
          where: { sagaId_stepIndex_phase: { sagaId: job.sagaId, stepIndex: job.stepIndex, phase: job.phase } },
          data: { status: result.ok ? "succeeded" : "failed", error: result.error ?? null, finishedAt: new Date() },
        });
        return { kind: "stale", reason: `saga moved to ${saga.status} at step ${saga.currentStep}` } as const;
      }
      const t = decide(def, job, saga, result);
      const applied = await apply(tx, job, saga.version, myAttempt, t, result, def, false, false);
      if (!applied) throw new Error("saga version moved under a row lock"); // cannot happen: we hold the lock
      return { kind: "advanced", status: t.status, next: t.next } as const;
    });
  }

  async function finish(job: StepJob, def: SagaDefinition<unknown>, claimed: ClaimRow, result: StepResult): Promise<StepOutcome> {
    const saga: SagaSnapshot = {
      status: phaseStatus(job.phase),
      currentStep: job.stepIndex,
      version: claimed.version,
      context: readContext(claimed.context),
    };
    const t = decide(def, job, saga, result);
    // Pre-claim the next step when its job can carry the saga's state (small sagas, the common case).
    const preclaimNext = t.next !== null && t.next.stepIndex !== job.stepIndex && approxJsonBytes(claimed, result) <= PRECLAIM_MAX_BYTES;
    const applied = await apply(db, job, claimed.version, claimed.attempts, t, result, def, preclaimNext);
    const outcome: StepOutcome = applied ? { kind: "advanced", status: t.status, next: t.next } : await finishUnderLock(job, def, claimed.attempts, result);
    if (outcome.kind === "advanced" && outcome.next) {
      const preclaim: PreClaim | undefined =
        applied && preclaimNext && applied.next_attempts !== null && applied.next_execution_id !== null
          ? {
              attempt: applied.next_attempts,
              version: applied.version,
              executionId: applied.next_execution_id,
              at: Date.now(),
              input: applied.input,
              context: applied.context,
              executedOutput: applied.next_executed_output ?? null,
            }
          : undefined;
      await dispatcher.dispatch(preclaim ? { ...outcome.next, preclaim } : outcome.next, dispatchOptionsFor(def, outcome.next.stepIndex));
    }
    return outcome;
  }

  return {
    /**
     * Persist a saga and queue its first step. Joins an ambient transaction (the idempotency
     * middleware's), so a replayed request finds the saga it started; the step job waits until
     * the row is visible (see explainUnclaimed).
     */
    async startSaga(type: string, input: unknown, options: { id?: string; correlationId?: string; traceparent?: string } = {}) {
      const def = registry.get(type);
      if (!def) throw badInput(`Unknown saga type "${type}"; known types: ${registry.types().join(", ") || "none"}`);
      const parsed = def.input.safeParse(input);
      if (!parsed.success) throw badInput(`Invalid input for saga ${type}: ${z.prettifyError(parsed.error)}`);
      const id = options.id ?? uuidv7();
      const context: SagaContext = { generation: 0, outputs: {} };
      const data = { id, type, input: parsed.data as object, context: context as object, correlationId: options.correlationId ?? null, traceparent: options.traceparent ?? null };
      const select = { id: true, status: true, createdAt: true } as const;
      // Inside the caller's transaction if there is one (so it commits with the request's other
      // writes); otherwise a single INSERT needs no transaction of its own.
      const tx = currentTransaction();
      const first: StepJob = { sagaId: id, sagaType: type, phase: "execute", stepIndex: 0, generation: 0, ...traceFieldsOf(options) };
      let saga: { id: string; status: SagaStatus; createdAt: Date };
      let preclaim: PreClaim | undefined;
      if (def.steps.length > 0 && approxJsonBytes({ input: parsed.data, context }, {}) <= PRECLAIM_MAX_BYTES) {
        // Lease taken no later than this: the job may use it for half the lease (see runStep).
        const at = Date.now();
        const executionId = executionIdFor(id, 0, 0);
        const [row] = await hot<StartRow>(
          tx ?? db,
          startStatement({
            sagaId: id,
            type,
            inputJson: JSON.stringify(parsed.data ?? null),
            contextJson: JSON.stringify(context),
            correlationId: options.correlationId ?? null,
            logId: uuidv7(),
            firstStepName: def.steps[0]!.name,
            firstExecutionId: executionId,
            traceparent: options.traceparent ?? null,
          }),
        );
        saga = { id: row!.id, status: row!.status, createdAt: row!.createdAt };
        preclaim = { attempt: 1, version: row!.version, executionId, at, input: parsed.data ?? null, context, executedOutput: null };
      } else {
        saga = await (tx ?? db).sagaInstance.create({ data, select });
      }
      // Queued only once the saga row is committed: a worker taking the job earlier would not see
      // the row, drop the job, and leave the saga to the sweeper (SAGA_STUCK_AFTER_MS later).
      await afterCommit(async () => {
        try {
          await dispatcher.dispatch(preclaim ? { ...first, preclaim } : first, dispatchOptionsFor(def, 0));
        } catch (error) {
          // Redis unreachable: the saga is committed, and the sweeper queues the first step of a
          // saga that has none (its job then waits out the first step's lease: see explainUnclaimed).
          // Failing the request instead would make a retry start a second saga.
          deps.logger?.warn({ err: errorText(error), sagaId: id }, "could not queue the first saga step; the sweeper will");
        }
      });
      return saga;
    },

    /** Run one job of the step queue. Never throws for a step's own failure: that is in the outcome. */
    async runStep(job: StepJob, attempt: StepAttempt): Promise<StepOutcome> {
      const def = definitionOf(job.sagaType);
      const step = def.steps[job.stepIndex];
      if (!step) return { kind: "stale", reason: `saga ${job.sagaType} has no step ${job.stepIndex}` };
      const pre = job.preclaim;
      const firstDelivery = attempt.attemptsMade === 0 && !attempt.redelivered;
      // The previous step took this step's lease for this job: its first delivery is the only one
      // that can run (one job per id; a redelivery goes through a real claim), so it runs at once.
      // An operator's abort after the pre-claim sees that lease as a step in flight and lets it
      // "finish"; the state this job carries predates the abort. So the fast path holds only while
      // no abort came since (see noAbortSince); otherwise the real claim reads the saga afresh,
      // under its row lock, and finds the abort.
      const usePreclaim = pre && firstDelivery && Date.now() - pre.at < leaseMsFor(def, job.stepIndex) / 2 && (await noAbortSince(job, pre));
      const claimed: ClaimRow | null =
        pre && usePreclaim
          ? { input: pre.input, context: pre.context, version: pre.version, attempts: pre.attempt, execution_id: pre.executionId, executed_output: pre.executedOutput }
          : await claim(job, def, pre && firstDelivery ? pre.attempt : null);
      if (!claimed) return explainUnclaimed(job, def, attempt);

      const context = readContext(claimed.context);
      const { timeoutMs } = stepPolicy(def, job.stepIndex);
      const base = {
        sagaId: job.sagaId,
        sagaType: job.sagaType,
        stepIndex: job.stepIndex,
        stepName: step.name,
        executionId: claimed.execution_id,
        attempt: attempt.attemptsMade + 1,
        input: claimed.input,
        outputs: context.outputs,
      };
      let result: StepResult;
      const startedAt = Date.now();
      const ran = () => ({ startedAt, durationMs: Date.now() - startedAt });
      try {
        if (job.phase === "execute" && context.abortRequested) {
          // Aborted while an earlier attempt of this step ran (and failed): do not start it again.
          result = { ok: false, final: true, error: "Not run: the saga was aborted", abortedBeforeRun: true };
        } else if (job.phase === "execute") {
          const output = await withTimeout((signal) => step.execute({ ...base, signal }), timeoutMs, step.name);
          result = { ok: true, output: output ?? null, final: true, ran: ran() };
        } else if (step.compensate) {
          const compensate = step.compensate;
          await withTimeout((signal) => compensate({ ...base, signal, output: claimed.executed_output ?? null }), timeoutMs, step.name);
          result = { ok: true, final: true, ran: ran() };
        } else {
          result = { ok: true, final: true, skipped: true };
        }
      } catch (error) {
        const final = error instanceof PermanentStepError || attempt.attemptsMade + 1 >= attempt.maxAttempts;
        result = { ok: false, error: errorText(error), final, ran: ran() };
        if (!final) {
          // Release the lease (status failed) so the retry can claim at once, only if it is still
          // ours; the attempt's history row goes in the same statement.
          const r = result.ran!;
          await db.$executeRaw`
            WITH released AS (
              UPDATE saga_step_log SET status = 'failed', error = ${result.error}, finished_at = now()
              WHERE saga_id = ${job.sagaId}::uuid AND step_index = ${job.stepIndex} AND phase = ${job.phase}::"SagaPhase"
                AND attempts = ${claimed.attempts} AND status = 'running'
            )
            INSERT INTO saga_step_attempt (id, saga_id, step_index, step_name, phase, generation, attempt, outcome, started_at, duration_ms, error, worker)
            SELECT ${uuidv7()}::uuid, ${job.sagaId}::uuid, ${job.stepIndex}, ${step.name}, ${job.phase}::"SagaPhase", ${job.generation},
                   ${claimed.attempts}, 'failed', ${new Date(r.startedAt)}, ${r.durationMs}, ${result.error ?? null}, ${workerIdentity}
            WHERE EXISTS (SELECT 1 FROM saga_instance WHERE id = ${job.sagaId}::uuid)`;
          return { kind: "retry", error: error instanceof Error ? error : new Error(String(error)) };
        }
      }
      return finish(job, def, claimed, result);
    },

    /**
     * Find sagas that should be moving but have not for `stuckAfterMs` and make sure their current
     * step has a job: a crash between commit and dispatch, or a job BullMQ gave up on, leaves none.
     * Only types this process can drive are read (another process owns the rest). One pass reads
     * `limit` sagas in (updated_at, id) order after `after`, and returns where the next pass goes on
     * (null: it reached the end, start again): sagas that can never be re-queued (a step their
     * definition no longer has, a job Redis refuses) stay stuck and oldest, and without the cursor
     * the first `limit` of them would be all any pass ever saw. One such saga is skipped and counted,
     * never the end of the pass.
     */
    async sweep(options: { stuckAfterMs: number; limit?: number; after?: SweepCursor | null }): Promise<SweepResult> {
      const limit = options.limit ?? 200;
      const types = registry.types();
      const after = options.after ?? null;
      const rows = await db.$queryRaw<Array<{ id: string; type: string; status: SagaStatus; current_step: number; context: unknown; correlation_id: string | null; traceparent: string | null; updated_at: Date }>>`
        SELECT id, type, status, current_step, context, correlation_id, traceparent, updated_at FROM saga_instance
        WHERE status IN ('running', 'compensating') AND updated_at < now() - ${options.stuckAfterMs} * interval '1 millisecond'
          -- updated_at moves only with the status (steps leave it for HOT updates), so the index
          -- gives the candidates and progressed_at, the last step's finish, says which are idle.
          AND (progressed_at IS NULL OR progressed_at < now() - ${options.stuckAfterMs} * interval '1 millisecond')
          AND type = ANY(${types}::text[])
          AND (${after === null}::boolean OR (updated_at, id) > (${after?.updatedAt ?? new Date(0)}::timestamptz, ${after?.id ?? "00000000-0000-0000-0000-000000000000"}::uuid))
        ORDER BY updated_at, id LIMIT ${limit}`;
      let redispatched = 0;
      const failures: Array<{ sagaId: string; error: string }> = [];
      for (const row of rows) {
        const def = registry.get(row.type);
        if (!def) continue; // unregistered between the read and now: another process owns it
        const job: StepJob = {
          sagaId: row.id,
          sagaType: row.type,
          phase: row.status === "running" ? "execute" : "compensate",
          stepIndex: row.current_step,
          generation: readContext(row.context).generation,
          ...traceFieldsOf({ correlationId: row.correlation_id, traceparent: row.traceparent }),
        };
        try {
          if (await dispatcher.ensure(job, dispatchOptionsFor(def, job.stepIndex))) redispatched += 1;
        } catch (error) {
          failures.push({ sagaId: row.id, error: errorText(error) });
        }
      }
      const last = rows.at(-1);
      const next = rows.length === limit && last ? { updatedAt: last.updated_at, id: last.id } : null;
      return { checked: rows.length, redispatched, failed: failures.length, failures: failures.slice(0, 5), next };
    },
  };
}

export type SagaEngine = ReturnType<typeof createSagaEngine>;
