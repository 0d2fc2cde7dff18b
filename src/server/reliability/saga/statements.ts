import type { SagaPhase, SagaStatus } from "./types";

/**
 * The hot SQL statements of the saga engine, each with a builder that takes named parameters and
 * lays them out in the positional order its text uses (`$1…$n`). Keeping the numbering next to
 * the text, in one place, is what lets the engine speak in names. Each statement has a stable
 * `name`: on a pg pool it runs as a named prepared statement, planned once per connection.
 */

/** A statement ready for pg's `query({ name, text, values })` (or Prisma's `$queryRawUnsafe`). */
export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

/** What a claim returns: the saga's state and our lease's attempt (the finish's fencing token). */
export interface ClaimRow {
  input: unknown;
  context: unknown;
  version: number;
  attempts: number;
  execution_id: string;
  executed_output: unknown;
}

/** What a finish returns when it applied: the saga's new state and the next step's pre-claim, if taken. */
export interface ApplyRow {
  version: number;
  input: unknown;
  context: unknown;
  next_attempts: number | null;
  next_execution_id: string | null;
  next_executed_output: unknown;
}

/** What a start returns. */
export interface StartRow {
  id: string;
  status: SagaStatus;
  createdAt: Date;
  version: number;
}

/**
 * Claim: the saga must still be at this step in this phase and generation (row-locked for the
 * statement, so an operator's abort, which takes the same lock, sees the step either not started
 * or in flight), and the step's log row is taken as a lease — inserted, or re-taken if it failed,
 * belongs to an older generation, or its lease ran out (a dead worker). The claim leaves the saga
 * row alone (one write less per step); the lease's attempt number is the finish's fencing token.
 * $1 saga id, $2 step, $3 saga status, $4 generation, $5 new log id, $6 step name, $7 phase,
 * $8 execution id (execute; a compensation reuses its execute's), $9 lease ms, $10 the attempt the
 * previous step pre-claimed for this very job (its first delivery may take that lease over), or null.
 */
const CLAIM_SQL = `
  WITH saga AS (
    SELECT id, input, context, version, correlation_id FROM saga_instance
    WHERE id = $1::uuid AND status = $3::"SagaStatus" AND current_step = $2::int
      AND COALESCE((context->>'generation')::int, 0) = $4::int
    FOR UPDATE
  ), executed AS (
    SELECT execution_id, output FROM saga_step_log
    WHERE saga_id = $1::uuid AND step_index = $2::int AND phase = 'execute'
  ), claimed AS (
    INSERT INTO saga_step_log AS l (id, saga_id, step_index, step_name, phase, status, attempts, execution_id, started_at, correlation_id)
    SELECT $5::uuid, saga.id, $2::int, $6::text, $7::"SagaPhase", 'running', 1,
      CASE WHEN $7::text = 'compensate' THEN COALESCE((SELECT execution_id FROM executed), $8::text) ELSE $8::text END,
      now(), saga.correlation_id
    FROM saga
    ON CONFLICT (saga_id, step_index, phase) DO UPDATE
      -- Re-taking our own, unused pre-claim (a first delivery that came too late for the fast path)
      -- renews the lease but keeps its attempt number: nothing ran under it (only this delivery
      -- could use it), so counting it would record an attempt that never happened. Any other
      -- take-over (failed, older generation, expired lease of another runner) is a new attempt,
      -- and the new number fences the previous holder's finish.
      SET status = 'running',
          attempts = CASE WHEN l.status = 'running' AND l.attempts = $10::int AND l.execution_id = EXCLUDED.execution_id
                          THEN l.attempts ELSE l.attempts + 1 END,
          started_at = now(), finished_at = NULL, error = NULL,
          output = NULL, execution_id = EXCLUDED.execution_id
      WHERE l.status IN ('failed', 'skipped')
         OR l.execution_id <> EXCLUDED.execution_id
         OR (l.status = 'running' AND l.started_at < now() - $9::int * interval '1 millisecond')
         OR (l.status = 'running' AND l.attempts = $10::int)
    RETURNING l.attempts, l.execution_id
  )
  SELECT saga.input, saga.context, saga.version, claimed.attempts, claimed.execution_id,
         (SELECT output FROM executed) AS executed_output
  FROM saga, claimed`;

/**
 * Finish: the guarded transition `UPDATE saga_instance … WHERE id = $1 AND version = $2`, only
 * while our lease on the step is still ours (attempt $15, running): a worker whose lease ran out
 * and was taken over cannot move the saga. The step's log row is written in the same statement.
 * $3 status, $4 current step, $5 last error (null keeps it), $6 terminal, $7 record output,
 * $8 step name, $9 output JSON, $10 abort requested, $11 log status, $12 log error, $13 step,
 * $14 phase, $15 our attempt; pre-claim of the next step (all null for none): $16 new log id,
 * $17 next step, $18 its name, $19 its phase, $20 its execution id, $21 its lease ms; $22 the
 * error fingerprint of $5 (failure groups); the attempt's history row (all null for none): $23 its
 * id, $24 started at, $25 duration ms, $26 worker, $27 generation.
 */
const APPLY_SQL = `
  WITH s AS (
    UPDATE saga_instance SET
      status = $3::"SagaStatus",
      current_step = $4::int,
      version = version + 1,
      -- updated_at is indexed: written only when the status changes, so a step that keeps the
      -- status changes no indexed column and its UPDATE is HOT (no index writes). progressed_at,
      -- in no index, is the per-step heartbeat the sweeper reads (see engine.sweep).
      updated_at = CASE WHEN status = $3::"SagaStatus" THEN updated_at ELSE now() END,
      progressed_at = now(),
      last_error = COALESCE($5::text, last_error),
      failure_fingerprint = CASE WHEN $5::text IS NULL THEN failure_fingerprint ELSE $22::text END,
      finished_at = CASE WHEN $6::boolean THEN now() ELSE NULL END,
      context = (
        CASE WHEN $7::boolean
          THEN jsonb_set(jsonb_set(context, '{outputs}', COALESCE(context->'outputs', '{}'::jsonb)), ARRAY['outputs', $8::text], $9::jsonb)
          ELSE context END
      ) - 'abortRequested' || CASE WHEN $10::boolean THEN '{"abortRequested": true}'::jsonb ELSE '{}'::jsonb END
    WHERE id = $1::uuid AND version = $2::int
      AND EXISTS (
        SELECT 1 FROM saga_step_log
        WHERE saga_id = $1::uuid AND step_index = $13::int AND phase = $14::"SagaPhase" AND attempts = $15::int AND status = 'running'
      )
    RETURNING version, input, context, correlation_id
  ), l AS (
    UPDATE saga_step_log SET
      status = $11::"SagaStepStatus",
      output = CASE WHEN $7::boolean THEN $9::jsonb ELSE NULL END,
      error = $12::text,
      finished_at = now()
    WHERE saga_id = $1::uuid AND step_index = $13::int AND phase = $14::"SagaPhase"
      AND EXISTS (SELECT 1 FROM s)
  ), att AS (
    -- The attempt's history row, with its outcome (only if the transition applied: otherwise the
    -- decision is taken again under a lock, which records it).
    INSERT INTO saga_step_attempt (id, saga_id, step_index, step_name, phase, generation, attempt, outcome, started_at, duration_ms, error, worker)
    SELECT $23::uuid, $1::uuid, $13::int, $8::text, $14::"SagaPhase", $27::int, $15::int,
      CASE WHEN $11::text = 'failed' THEN 'failed'::"AttemptOutcome" ELSE 'succeeded'::"AttemptOutcome" END,
      $24::timestamptz, $25::int, $12::text, $26::text
    FROM s WHERE $23::uuid IS NOT NULL
  ), nxt AS (
    -- Pre-claim: take the next step's lease now, for the job about to be queued (same claim rules).
    INSERT INTO saga_step_log AS n (id, saga_id, step_index, step_name, phase, status, attempts, execution_id, started_at, correlation_id)
    SELECT $16::uuid, $1::uuid, $17::int, $18::text, $19::"SagaPhase", 'running', 1,
      CASE WHEN $19::text = 'compensate'
        THEN COALESCE((SELECT execution_id FROM saga_step_log WHERE saga_id = $1::uuid AND step_index = $17::int AND phase = 'execute'), $20::text)
        ELSE $20::text END,
      now(), s.correlation_id
    FROM s WHERE $16::uuid IS NOT NULL
    ON CONFLICT (saga_id, step_index, phase) DO UPDATE
      SET status = 'running', attempts = n.attempts + 1, started_at = now(), finished_at = NULL, error = NULL,
          output = NULL, execution_id = EXCLUDED.execution_id
      WHERE n.status IN ('failed', 'skipped')
         OR n.execution_id <> EXCLUDED.execution_id
         OR (n.status = 'running' AND n.started_at < now() - $21::int * interval '1 millisecond')
    RETURNING n.attempts, n.execution_id
  )
  SELECT s.version, s.input, s.context,
         (SELECT attempts FROM nxt) AS next_attempts,
         (SELECT execution_id FROM nxt) AS next_execution_id,
         CASE WHEN $19::text = 'compensate'
           THEN (SELECT output FROM saga_step_log WHERE saga_id = $1::uuid AND step_index = $17::int AND phase = 'execute')
         END AS next_executed_output
  FROM s`;

/**
 * Start: the saga row and the lease on its first step in one statement (one commit), so the first
 * step's job runs at once without a claim of its own: with the finish + next pre-claim of APPLY_SQL,
 * a saga of n steps costs n + 1 commits (start included), not n + 2.
 * $1 id, $2 type, $3 input, $4 context, $5 correlation id, $6 log id, $7 step 0's name, $8 its execution id,
 * $9 the starting request's traceparent.
 */
const START_SQL = `
  WITH s AS (
    INSERT INTO saga_instance (id, type, status, current_step, input, context, correlation_id, traceparent, version, created_at, updated_at)
    VALUES ($1::uuid, $2::text, 'running', 0, $3::jsonb, $4::jsonb, $5::text, $9::text, 0, now(), now())
    RETURNING id, status, created_at, version
  ), l AS (
    INSERT INTO saga_step_log (id, saga_id, step_index, step_name, phase, status, attempts, execution_id, started_at, correlation_id)
    SELECT $6::uuid, s.id, 0, $7::text, 'execute', 'running', 1, $8::text, clock_timestamp(), $5::text FROM s
  )
  SELECT id, status, created_at AS "createdAt", version FROM s`;

export interface ClaimParams {
  sagaId: string;
  stepIndex: number;
  /** The saga status this step's phase runs under (running / compensating). */
  sagaStatus: SagaStatus;
  generation: number;
  /** Id of the step log row, if the claim inserts it. */
  logId: string;
  stepName: string;
  phase: SagaPhase;
  /** The execution id (execute; a compensation reuses its execute's). */
  executionId: string;
  leaseMs: number;
  /** The attempt the previous step pre-claimed for this very job (its first delivery may take that lease over), or null. */
  ownPreclaimAttempt: number | null;
}

export function claimStatement(p: ClaimParams): Statement {
  return {
    name: "saga_claim",
    text: CLAIM_SQL,
    values: [p.sagaId, p.stepIndex, p.sagaStatus, p.generation, p.logId, p.stepName, p.phase, p.executionId, p.leaseMs, p.ownPreclaimAttempt],
  };
}

/** The next step's lease, taken by the finish for the job about to be queued. */
export interface PreclaimParams {
  logId: string;
  stepIndex: number;
  stepName: string;
  phase: SagaPhase;
  executionId: string;
  leaseMs: number;
}

/** The attempt's history row (saga_step_attempt), written with the finish. */
export interface AttemptRecordParams {
  id: string;
  startedAt: string;
  durationMs: number;
  worker: string;
  generation: number;
}

export interface ApplyParams {
  sagaId: string;
  /** The saga version the transition was decided on: the guard. */
  seenVersion: number;
  status: SagaStatus;
  currentStep: number;
  /** Null keeps the saga's last error. */
  lastError: string | null;
  /** The fingerprint of lastError (failure groups), or null. */
  lastErrorFingerprint: string | null;
  terminal: boolean;
  /** Record the step's output in the saga context (a successful execute). */
  recordOutput: boolean;
  stepName: string;
  outputJson: string;
  abortRequested: boolean;
  logStatus: "succeeded" | "failed" | "skipped";
  logError: string | null;
  stepIndex: number;
  phase: SagaPhase;
  /** Our lease's attempt number: the finish applies only while that lease is still ours. */
  myAttempt: number;
  preclaim: PreclaimParams | null;
  attempt: AttemptRecordParams | null;
}

export function applyStatement(p: ApplyParams): Statement {
  const n = p.preclaim;
  const a = p.attempt;
  return {
    name: "saga_apply",
    text: APPLY_SQL,
    values: [
      p.sagaId,
      p.seenVersion,
      p.status,
      p.currentStep,
      p.lastError,
      p.terminal,
      p.recordOutput,
      p.stepName,
      p.outputJson,
      p.abortRequested,
      p.logStatus,
      p.logError,
      p.stepIndex,
      p.phase,
      p.myAttempt,
      n?.logId ?? null,
      n?.stepIndex ?? null,
      n?.stepName ?? null,
      n?.phase ?? null,
      n?.executionId ?? null,
      n?.leaseMs ?? null,
      p.lastErrorFingerprint,
      a?.id ?? null,
      a?.startedAt ?? null,
      a?.durationMs ?? null,
      a?.worker ?? null,
      a?.generation ?? null,
    ],
  };
}

export interface StartParams {
  sagaId: string;
  type: string;
  inputJson: string;
  contextJson: string;
  correlationId: string | null;
  /** The first step's log row (its lease). */
  logId: string;
  firstStepName: string;
  firstExecutionId: string;
  /** The starting request's traceparent. */
  traceparent: string | null;
}

export function startStatement(p: StartParams): Statement {
  return {
    name: "saga_start",
    text: START_SQL,
    values: [p.sagaId, p.type, p.inputJson, p.contextJson, p.correlationId, p.logId, p.firstStepName, p.firstExecutionId, p.traceparent],
  };
}
