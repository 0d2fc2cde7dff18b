/** Shapes shared by the engine, the dispatcher (BullMQ) and the operator operations. */
import type { JobPayload } from "../../contracts/queues";

import type { SagaStatus } from "../../contracts/statuses";
export type { SagaPhase, SagaStatus } from "../../contracts/statuses";

export const TERMINAL_STATUSES: ReadonlyArray<SagaStatus> = ["completed", "compensated", "aborted"];

/** One job of the step queue: run this phase of this step of this saga (contracts/queues.ts "saga-step"). */
export type StepJob = JobPayload<"saga-step">;
/** The lease the previous step's finish took for this job (see the job schema). */
export type PreClaim = NonNullable<StepJob["preclaim"]>;

export interface DispatchOptions {
  attempts: number;
  backoffMs: number;
}

/** Where the engine hands the next step (BullMQ in the app; see step-queue.ts). */
export interface SagaDispatcher {
  dispatch(job: StepJob, options: DispatchOptions): Promise<void>;
  /** Queue the job unless a live one (waiting, delayed, active) exists; true if it had to queue it. */
  ensure(job: StepJob, options: DispatchOptions): Promise<boolean>;
  /**
   * Abort marks, kept beside the step jobs. Required, so that no dispatcher can forget them: a
   * dispatcher without marks would let a pre-claimed step start after an abort. An operator's abort marks the saga's
   * generation BEFORE it writes the abort; a pre-claimed job checks the mark after BullMQ handed it
   * over and before its body starts, and if marked takes the real claim, which reads the abort
   * under the saga's row lock. Since the mark precedes the abort's write, a job that does not see
   * it passed its gate before the abort began: the step was in flight, which the abort allows.
   */
  markAbort(saga: AbortMarkKey, ttlMs: number): Promise<void>;
  /**
   * Several marks in one round trip (a bulk abort marks a whole batch before its transaction
   * begins, so no row lock waits on Redis). Resolves once every mark is written; throws otherwise.
   */
  markAborts(marks: ReadonlyArray<{ saga: AbortMarkKey; ttlMs: number }>): Promise<void>;
  /**
   * Whether an abort marked this saga generation. Throws if the store cannot answer; the engine
   * then asks PostgreSQL (is the saga still at the pre-claim's version?), one read for that step.
   */
  abortMarked(saga: AbortMarkKey): Promise<boolean>;
}

export type AbortMarkKey = Pick<StepJob, "sagaId" | "generation">;

/** What `saga_instance.context` holds. */
export interface SagaContext {
  generation: number;
  /** Outputs of executed steps, by step name. */
  outputs: Record<string, unknown>;
  /** Set by an operator's abort while a step was in flight: that step's end turns the saga around. */
  abortRequested?: boolean;
  /**
   * The first step this saga ran itself: a fork starts at a later step with the outputs its original
   * recorded for the earlier ones. Compensation stops here, since the earlier steps' effects belong
   * to the original saga (0, or absent, for a saga started normally).
   */
  startStep?: number;
}

export function readContext(value: unknown): SagaContext {
  const raw = (value ?? {}) as Partial<SagaContext>;
  return {
    generation: typeof raw.generation === "number" ? raw.generation : 0,
    outputs: raw.outputs && typeof raw.outputs === "object" ? raw.outputs : {},
    ...(raw.abortRequested ? { abortRequested: true } : {}),
    ...(typeof raw.startStep === "number" && raw.startStep > 0 ? { startStep: raw.startStep } : {}),
  };
}

/** Stable id of one execution of a step: shared by its retries, its redeliveries and its compensation. */
export function executionIdFor(sagaId: string, stepIndex: number, generation: number): string {
  return `${sagaId}.${stepIndex}.${generation}`;
}
