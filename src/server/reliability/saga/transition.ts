import type { SagaDefinition } from "./definition";
import type { SagaContext, SagaPhase, SagaStatus, StepJob } from "./types";

/**
 * The saga's pure state machine: given the saga as the finish saw it and how this phase of this
 * step ended, the transition to write and the next job to queue. No I/O: the engine writes the
 * transition with a version-guarded statement (statements.ts) and queues the next job.
 */

export interface SagaSnapshot {
  status: SagaStatus;
  currentStep: number;
  version: number;
  context: SagaContext;
}

export interface StepResult {
  ok: boolean;
  output?: unknown;
  error?: string;
  /** The failure is final (no attempts left or a PermanentStepError). */
  final: boolean;
  /** Compensation of a step that has no compensate function. */
  skipped?: boolean;
  /** An abort was requested while the previous attempt ran: this step is not run at all. */
  abortedBeforeRun?: boolean;
  /** When the step body started and how long it ran: kept in saga_step_attempt (absent: nothing ran). */
  ran?: { startedAt: number; durationMs: number };
}

export interface Transition {
  status: SagaStatus;
  currentStep: number;
  terminal: boolean;
  lastError: string | null;
  abortRequested: boolean;
  next: StepJob | null;
}

/** The saga status a step of this phase runs under. */
export function phaseStatus(phase: SagaPhase): SagaStatus {
  return phase === "execute" ? "running" : "compensating";
}

/** The correlation fields a step job passes on to the next one. */
export function traceFieldsOf(job: { correlationId?: string | null; traceparent?: string | null }): Pick<StepJob, "correlationId" | "traceparent"> {
  return { ...(job.correlationId ? { correlationId: job.correlationId } : {}), ...(job.traceparent ? { traceparent: job.traceparent } : {}) };
}

/** What happens to the saga once this phase of this step has ended (success or final failure). */
export function decide(def: SagaDefinition<unknown>, current: StepJob, saga: SagaSnapshot, result: StepResult): Transition {
  const last = def.steps.length - 1;
  // Next jobs are built from the identity fields only (never carry this job's pre-claim along).
  const job: StepJob = {
    sagaId: current.sagaId,
    sagaType: current.sagaType,
    phase: current.phase,
    stepIndex: current.stepIndex,
    generation: current.generation,
    ...traceFieldsOf(current),
  };
  const abort = saga.context.abortRequested === true;
  // A fork never compensates the steps before its start: their effects are the original saga's.
  const floor = saga.context.startStep ?? 0;
  const compensateFrom = (index: number, lastError: string | null): Transition =>
    index < floor
      ? { status: abort ? "aborted" : "compensated", currentStep: 0, terminal: true, lastError, abortRequested: abort, next: null }
      : {
          status: "compensating",
          currentStep: index,
          terminal: false,
          lastError,
          abortRequested: abort,
          next: { ...job, phase: "compensate", stepIndex: index },
        };

  if (job.phase === "execute") {
    if (!result.ok) {
      const step = def.steps[job.stepIndex]!;
      // The failed step is not compensated: only completed steps are, in reverse.
      return compensateFrom(job.stepIndex - 1, result.abortedBeforeRun ? null : `Step ${job.stepIndex} (${step.name}) failed: ${result.error}`);
    }
    // An operator asked to abort while this step ran: it completed, so it is undone too.
    if (abort) return compensateFrom(job.stepIndex, null);
    if (job.stepIndex === last) {
      return { status: "completed", currentStep: job.stepIndex, terminal: true, lastError: null, abortRequested: false, next: null };
    }
    return {
      status: "running",
      currentStep: job.stepIndex + 1,
      terminal: false,
      lastError: null,
      abortRequested: false,
      next: { ...job, stepIndex: job.stepIndex + 1 },
    };
  }
  if (!result.ok) {
    const step = def.steps[job.stepIndex]!;
    return {
      status: "failed",
      currentStep: job.stepIndex,
      terminal: false,
      lastError: `Compensation of step ${job.stepIndex} (${step.name}) failed: ${result.error}`,
      abortRequested: abort,
      next: null,
    };
  }
  return compensateFrom(job.stepIndex - 1, null);
}
