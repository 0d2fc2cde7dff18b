import { TRPCClientError, type Operation, type TRPCLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { observable, type Unsubscribable } from "@trpc/server/observable";
import { v4 as uuidv4 } from "uuid";

/**
 * Safe retries for every mutation, for free: each mutation call gets its own Idempotency-Key
 * (kept in the operation's context), and when that same call is retried — after a network error,
 * a 5xx, or a 409 "still in progress" — it is sent again with the SAME key, so the server runs it
 * at most once and the retry receives the first execution's result.
 *
 * A caller that wants a key to survive across calls (say one per form submission, so that a
 * double click or a React Query retry is the same operation) passes its own:
 *   mutate(input, { context: { idempotencyKey } })
 *
 * Place it before the terminating links, and give the http link `headers: idempotencyHeaders`.
 * Mutations must not be batched: a batch is one HTTP request with one header.
 */
export const IDEMPOTENCY_KEY_CONTEXT = "idempotencyKey";

export interface IdempotencyLinkOptions {
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** Delay before retry number `attempt` (1-based) when the server gave no Retry-After. */
  retryDelayMs?: (attempt: number) => number;
  /** Key generator (default: UUID v4; crypto.randomUUID is missing outside secure contexts). */
  newKey?: () => string;
}

/** Longest Retry-After the link honours; a longer one is reported to the caller instead. */
const MAX_RETRY_AFTER_MS = 10_000;

export function idempotencyLink<TRouter extends AnyRouter>(options: IdempotencyLinkOptions = {}): TRPCLink<TRouter> {
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? ((attempt: number) => Math.min(250 * 3 ** (attempt - 1), 5_000));
  const newKey = options.newKey ?? uuidv4;

  return () =>
    ({ op, next }) => {
      if (op.type !== "mutation") return next(op);
      const given = op.context[IDEMPOTENCY_KEY_CONTEXT];
      const key = typeof given === "string" && given !== "" ? given : newKey();
      const keyed: Operation = { ...op, context: { ...op.context, [IDEMPOTENCY_KEY_CONTEXT]: key } };

      return observable((observer) => {
        let subscription: Unsubscribable | undefined;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let attempt = 0;
        const run = () => {
          attempt++;
          subscription = next(keyed).subscribe({
            next: (envelope) => observer.next(envelope),
            complete: () => observer.complete(),
            error: (error) => {
              const delay = attempt <= retries ? retryDelay(error, attempt, retryDelayMs) : null;
              if (delay === null) return observer.error(error);
              timer = setTimeout(run, delay);
            },
          });
        };
        run();
        return () => {
          clearTimeout(timer);
          subscription?.unsubscribe();
        };
      });
    };
}

/** Headers for the http link: the operation's Idempotency-Key, when it has one. */
export function idempotencyHeaders({ op }: { op: Operation }): Record<string, string> {
  const key = op.context[IDEMPOTENCY_KEY_CONTEXT];
  return typeof key === "string" ? { "Idempotency-Key": key } : {};
}

/**
 * How long to wait before retrying, or null when a retry cannot help: any 4xx would be answered
 * the same way again (the server stores it), except a 409 that carries Retry-After — the first
 * request with this key is still running.
 */
function retryDelay(error: unknown, attempt: number, retryDelayMs: (attempt: number) => number): number | null {
  if (!(error instanceof TRPCClientError)) return null;
  if (error.cause?.name === "AbortError") return null;
  const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
  const response = (error.meta as { response?: Response } | undefined)?.response;
  if (status === undefined) return retryDelayMs(attempt); // no answer at all: the network failed
  if (status >= 500) return retryDelayMs(attempt);
  if (status === 409) {
    const retryAfter = Number(response?.headers.get("retry-after"));
    if (!Number.isFinite(retryAfter) || retryAfter <= 0) return null; // a real conflict, not "in progress"
    const ms = retryAfter * 1000;
    return ms <= MAX_RETRY_AFTER_MS ? ms : null;
  }
  return null;
}
