import type { z } from "zod";

/**
 * How a saga is declared: an input schema and ordered steps, each with `execute` and an optional
 * `compensate`, a retry policy and a timeout. Definitions are plain data + functions so the worker,
 * the web process and tests register the same objects; the engine (engine.ts) runs them.
 */

export interface RetryPolicy {
  /** Total tries of one step (1 = no retry). */
  attempts: number;
  /** First backoff; doubles each retry (BullMQ exponential backoff), with jitter. */
  backoffMs: number;
}

export interface StepContext<I> {
  sagaId: string;
  sagaType: string;
  stepIndex: number;
  stepName: string;
  /**
   * Stable for one execution of this step, across retries, redeliveries after a crash and its
   * compensation: key side effects by it so doing them twice has the effect of doing them once.
   */
  executionId: string;
  /** 1 for the first try of this phase of the step. */
  attempt: number;
  input: I;
  /** Outputs of the steps that ran before, by step name. */
  outputs: Record<string, unknown>;
  /** Aborted when the step's timeout elapses: long steps should pass it on (fetch, streams) or check it. */
  signal: AbortSignal;
}

export interface CompensationContext<I> extends StepContext<I> {
  /** What this step's execute returned (null if it returned nothing). */
  output: unknown;
}

export interface SagaStep<I> {
  name: string;
  /** Do the work. Returns a JSON-serialisable output kept in the saga's context. */
  execute(ctx: StepContext<I>): Promise<unknown>;
  /** Undo the work; must tolerate running twice (crash after the undo, before it was recorded). */
  compensate?(ctx: CompensationContext<I>): Promise<void>;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

export interface SagaDefinition<I = unknown> {
  type: string;
  input: z.ZodType<I>;
  steps: ReadonlyArray<SagaStep<I>>;
  retry: RetryPolicy;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 200 };
export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

export function defineSaga<S extends z.ZodType>(def: {
  type: string;
  input: S;
  steps: ReadonlyArray<SagaStep<z.infer<S>>>;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}): SagaDefinition<z.infer<S>> {
  if (!/^[\w.-]+$/.test(def.type)) throw new Error(`Saga type "${def.type}" must be letters, digits, ".", "-" or "_"`);
  if (def.steps.length === 0) throw new Error(`Saga ${def.type} has no steps`);
  const names = new Set(def.steps.map((s) => s.name));
  if (names.size !== def.steps.length) throw new Error(`Saga ${def.type} has two steps with the same name`);
  return {
    type: def.type,
    input: def.input as z.ZodType<z.infer<S>>,
    steps: def.steps,
    retry: { ...DEFAULT_RETRY, ...def.retry },
    timeoutMs: def.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
  };
}

export function stepPolicy(def: SagaDefinition<unknown>, index: number): { retry: RetryPolicy; timeoutMs: number } {
  const step = def.steps[index];
  if (!step) throw new Error(`Saga ${def.type} has no step ${index}`);
  return { retry: { ...def.retry, ...step.retry }, timeoutMs: step.timeoutMs ?? def.timeoutMs };
}

/** Throw from a step to fail it at once, without the remaining retries (bad input, a rejected file). */
export class PermanentStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentStepError";
  }
}

export class StepTimeoutError extends Error {
  constructor(stepName: string, timeoutMs: number) {
    super(`Step ${stepName} timed out after ${timeoutMs} ms`);
    this.name = "StepTimeoutError";
  }
}

export interface SagaRegistry {
  get(type: string): SagaDefinition<unknown> | undefined;
  types(): string[];
}

// Definitions have different input types; the registry erases them (each saga's input is parsed by
// its own schema before a step sees it), which TypeScript can only express with `any` here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createSagaRegistry(definitions: ReadonlyArray<SagaDefinition<any>>): SagaRegistry {
  const byType = new Map<string, SagaDefinition<unknown>>();
  for (const def of definitions) {
    if (byType.has(def.type)) throw new Error(`Saga type ${def.type} is registered twice`);
    byType.set(def.type, def as SagaDefinition<unknown>);
  }
  return { get: (type) => byType.get(type), types: () => [...byType.keys()] };
}
