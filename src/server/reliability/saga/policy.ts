import { stepPolicy, StepTimeoutError, type SagaDefinition } from "./definition";
import type { DispatchOptions } from "./types";

/** The engine's per-step policy helpers, shared with the operator actions (operations.ts, fork.ts). */

/** A step's lease outlives its timeout by this much, so a slow-but-alive worker keeps its step. */
const LEASE_GRACE_MS = 2_000;

export function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error);
  return text.slice(0, 2000);
}

export function dispatchOptionsFor(def: SagaDefinition<unknown>, stepIndex: number): DispatchOptions {
  const { retry } = stepPolicy(def, stepIndex);
  return { attempts: retry.attempts, backoffMs: retry.backoffMs };
}

export function leaseMsFor(def: SagaDefinition<unknown>, stepIndex: number): number {
  return stepPolicy(def, stepIndex).timeoutMs + LEASE_GRACE_MS;
}

/** Run fn under a timeout; the signal tells a cooperative step to stop. */
export async function withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, ms: number, stepName: string): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new StepTimeoutError(stepName, ms);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
