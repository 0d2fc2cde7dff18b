/**
 * Idempotency-Key for tRPC mutations (IETF draft-ietf-httpapi-idempotency-key-header, Stripe's
 * idempotent requests). On for every mutation; a procedure opts out with `.meta({ idempotency: false })`.
 *
 *   first request            → claim the key (while the transaction opens), run the mutation and
 *                              complete the record in ONE transaction
 *   same key, same input     → the stored result, with `Idempotent-Replayed: true`
 *   same key, other input    → 422 UNPROCESSABLE_CONTENT
 *   same key, still running  → 409 CONFLICT with `Retry-After`
 *   malformed key            → 400 BAD_REQUEST
 *   deterministic 4xx        → stored and replayed;  5xx (and other transient errors) → key released
 *   request died mid-flight  → its claim is taken over once its lease has run out
 *
 * The mutation runs inside `withAmbientTransaction`: domain code asking `inTransaction(db, …)` joins
 * the transaction opened here, so the business rows, the outbox event and the record commit together.
 */
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError, ZodRealError } from "zod";
import { AfterCommitHooks, withAmbientTransaction } from "../../platform/db/transaction";
import { DomainError, type DomainErrorKind } from "../../platform/errors";
import { MULTIPART_OVERHEAD_BYTES } from "../../contracts/limits";
import { fingerprintInput } from "../../reliability/idempotency/fingerprint";
import { IDEMPOTENCY_KEY_HEADER, parseIdempotencyKey } from "../../reliability/idempotency/key";
import { createIdempotencyMetrics, type IdempotencyCounter } from "../../reliability/idempotency/metrics";
import { resolveIdempotencyOptions } from "../../reliability/idempotency/options";
import type { StoredCause, StoredOutcome } from "../../reliability/idempotency/outcome";
import { RecentKeys } from "../../reliability/idempotency/recent-keys";
import { idempotencyScope } from "../../reliability/idempotency/scope";
import { sideStatements } from "../../platform/db/side-pool";
import { claimIdempotencyKey, completeClaim, releaseClaim, type Claim, type ClaimResult } from "../../reliability/idempotency/store";
import type { InnerContext } from "../context";
import { t, type MiddlewareResult } from "../init";
import type { ProcedureMeta } from "../procedure-meta";

export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";

/**
 * Errors that the same request would get again: stored and replayed. UNAUTHORIZED and FORBIDDEN
 * are not among them: they depend on who the caller is now (signing in, or being granted a role,
 * and retrying must work; role checks run before this middleware anyway). Nor are 408/429/499/5xx
 * (transient by nature), nor a domain error marked transient (e.g. "kept changing, try again").
 */
const DETERMINISTIC_ERRORS: ReadonlySet<TRPC_ERROR_CODE_KEY> = new Set<TRPC_ERROR_CODE_KEY>([
  "BAD_REQUEST",
  "NOT_FOUND",
  "METHOD_NOT_SUPPORTED",
  "CONFLICT",
  "PRECONDITION_FAILED",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "UNPROCESSABLE_CONTENT",
  "PAYMENT_REQUIRED",
]);

/** Multipart framing allowance, the upload size guard's own (contracts/limits.ts). */
const BODY_FRAMING_BYTES = MULTIPART_OVERHEAD_BYTES;

interface IdempotencyMiddlewareOptions {
  ctx: InnerContext;
  meta: ProcedureMeta | undefined;
  type: string;
  path: string;
  getRawInput: () => Promise<unknown>;
  next: () => Promise<MiddlewareResult>;
}

type Result = MiddlewareResult;

export async function idempotencyMiddleware(opts: IdempotencyMiddlewareOptions): Promise<Result> {
  const { ctx, meta, type, path, next } = opts;
  if (type !== "mutation" || meta?.idempotency === false) return next();
  const header = ctx.request?.headers.get(IDEMPOTENCY_KEY_HEADER) ?? null;
  if (header === null) return next();

  // What happened to this request, counted in one Redis round trip when it is answered.
  const counted: IdempotencyCounter[] = [];
  const count = (counter: IdempotencyCounter) => void counted.push(counter);
  try {
    return await handleKeyed(opts, header, count);
  } finally {
    if (counted.length > 0) {
      createIdempotencyMetrics(ctx.redis, ctx.config.queuePrefix, (err) => ctx.logger.warn({ err }, "idempotency metrics could not be recorded")).record(counted, path);
    }
  }
}

type Count = (counter: IdempotencyCounter) => void;

/** Keys this process has seen lately (a hint: see recent-keys.ts). */
const recentKeys = new RecentKeys();

async function handleKeyed(opts: IdempotencyMiddlewareOptions, header: string, count: Count): Promise<Result> {
  const { ctx, path, next } = opts;
  const parsed = parseIdempotencyKey(header);
  if (!parsed.ok) {
    count("malformed");
    throw new TRPCError({ code: "BAD_REQUEST", message: parsed.reason });
  }
  // Anonymous callers have no identity to scope a key by: sharing one "anonymous" scope would let
  // one stranger replay another's response. The only public mutation (signIn) opts out anyway.
  if (!ctx.user) return next();
  // A body larger than any procedure accepts is refused by the size guard from its Content-Length
  // before it is read; fingerprinting it here would read it first. Such a request is never stored.
  const declared = Number(ctx.request?.headers.get("content-length") ?? 0);
  if (declared > ctx.config.maxUploadBytes + BODY_FRAMING_BYTES) return next();

  const options = resolveIdempotencyOptions(ctx.config.idempotency);
  const fingerprint = await fingerprintInput(await opts.getRawInput());
  count("requests");
  const sql = sideStatements(ctx.db);
  const scope = idempotencyScope(ctx.user.id, path);
  // A key this process answered lately is most likely a retry, which the transaction would only roll back.
  const likelyRetry = recentKeys.has(scope, parsed.key);
  recentKeys.add(scope, parsed.key);
  const claiming = claimIdempotencyKey(sql, { scope, key: parsed.key, fingerprint, correlationId: ctx.correlationId }, options);
  // A fresh key's transaction is opened while the claim travels (on the side pool: a claim never
  // waits for a main-pool connection that a transaction waiting for its claim holds), so BEGIN's
  // round trip hides behind the claim's. The mutation itself starts only once the key is ours.
  // A likely retry, or a client without a side pool, claims first and opens the transaction after.
  let transaction: Promise<TransactionOutcome> | undefined;
  if (sql.ownPool && !likelyRetry) transaction = runTransaction({ ctx, next, claiming, options });
  let claimed: ClaimResult;
  try {
    claimed = await claiming;
  } catch (error) {
    await transaction; // rolled back (its body rethrows the claim's failure); never rejects
    throw error;
  }
  if (claimed.kind !== "claimed") {
    // The speculative transaction rolls back on its own (its body sees the same answer); the answer
    // does not wait for that round trip.
    return answerUnclaimed(ctx, path, parsed.key, claimed, count);
  }
  if (claimed.claim.recovered) {
    count("recovered");
    ctx.logger.info({ path, key: parsed.key }, "idempotency claim recovered after its lease ran out");
  }
  transaction ??= runTransaction({ ctx, next, claiming, options });
  return execute({ ctx, path, claim: claimed.claim, count, key: parsed.key, transaction: await transaction });
}

function answerUnclaimed(ctx: InnerContext, path: string, key: string, claimed: Exclude<ClaimResult, { kind: "claimed" }>, count: Count): Result {
  switch (claimed.kind) {
    case "mismatch":
      count("mismatches");
      throw new TRPCError({
        code: "UNPROCESSABLE_CONTENT",
        message: `The Idempotency-Key "${key}" was already used for a different request to ${path}: send a new key for a new request`,
      });
    case "in_progress":
      count("conflicts");
      ctx.request?.resHeaders.set("Retry-After", String(claimed.retryAfterSeconds));
      throw new TRPCError({
        code: "CONFLICT",
        message: `A request with the Idempotency-Key "${key}" is still being processed: retry in ${claimed.retryAfterSeconds} s to get its result`,
      });
    case "replay":
      count("replayed");
      ctx.request?.resHeaders.set(IDEMPOTENT_REPLAYED_HEADER, "true");
      return replay(claimed.outcome);
  }
}

/** Thrown inside the transaction to roll the mutation's writes back while keeping its answer. */
class RollBack extends Error {
  constructor(readonly result: Result) {
    super("roll back the mutation");
  }
}

/** The record was taken over by another request (this one's lease ran out) before it completed. */
class ClaimLost extends Error {}

/** The key was not ours (replay, conflict, mismatch, or the claim failed): the transaction did nothing. */
class NotClaimed extends Error {}

/** How the mutation's transaction ended; never a rejection (the caller decides what each means). */
type TransactionOutcome =
  | { kind: "committed"; result: Result; hooks: AfterCommitHooks }
  | { kind: "rolledBack"; result: Result }
  | { kind: "claimLost" }
  | { kind: "notClaimed" }
  | { kind: "failed"; error: unknown };

/**
 * The mutation and the record's completion in one transaction, once the claim says the key is
 * ours. Settles with an outcome instead of rejecting: it may run ahead of the claim's answer, and a
 * rejection nobody awaits yet would be an unhandled one.
 */
async function runTransaction(args: {
  ctx: InnerContext;
  next: () => Promise<Result>;
  claiming: Promise<ClaimResult>;
  options: ReturnType<typeof resolveIdempotencyOptions>;
}): Promise<TransactionOutcome> {
  const { ctx, next, claiming, options } = args;
  const hooks = new AfterCommitHooks();
  try {
    const result = await ctx.db.$transaction(
      async (tx) => {
        const claimed = await claiming.catch(() => null);
        if (claimed?.kind !== "claimed") throw new NotClaimed();
        const outcome = await withAmbientTransaction(tx, next, hooks);
        if (!outcome.ok) throw new RollBack(outcome);
        // The guard: if another request took the key over, this completion matches nothing and the
        // mutation's writes roll back with it; only the owner of the key can commit an execution.
        if (!(await completeClaim(tx, claimed.claim, { type: "data", data: outcome.data }, 200))) throw new ClaimLost();
        return outcome;
      },
      { timeout: options.transactionTimeoutMs, maxWait: options.transactionMaxWaitMs },
    );
    return { kind: "committed", result, hooks };
  } catch (error) {
    if (error instanceof RollBack) return { kind: "rolledBack", result: error.result };
    if (error instanceof ClaimLost) return { kind: "claimLost" };
    if (error instanceof NotClaimed) return { kind: "notClaimed" };
    return { kind: "failed", error };
  }
}

async function execute(args: { ctx: InnerContext; path: string; key: string; claim: Claim; count: Count; transaction: TransactionOutcome }): Promise<Result> {
  const { ctx, path, key, claim, count, transaction } = args;
  const { db } = ctx;
  switch (transaction.kind) {
    case "claimLost":
      // Our lease ran out and a retry took the key over: it is the one whose execution counts.
      count("conflicts");
      ctx.request?.resHeaders.set("Retry-After", "1");
      throw new TRPCError({ code: "CONFLICT", message: `A request with the Idempotency-Key "${key}" is still being processed: retry in 1 s to get its result` });
    case "failed":
    case "notClaimed": {
      // The transaction itself failed (begin, commit, timeout, lost connection): nothing was committed.
      const error = transaction.kind === "failed" ? transaction.error : new Error("the idempotency claim was not seen by its transaction");
      await release(ctx, claim, path, count, error);
      throw error;
    }
    case "committed":
      count("executed");
      // Committed: now the side effects that had to wait for it (e.g. queuing a saga's first step).
      await transaction.hooks.run();
      return transaction.result;
    case "rolledBack":
      break;
  }
  count("executed");
  const result = transaction.result;
  if (result.ok) return result; // not reached: a success commits
  if (isDeterministic(result.error)) {
    // The writes are rolled back; the answer is stored so a retry gets the very same one. Should
    // this statement fail, the claim stays in_progress and is recovered after its lease.
    await completeClaim(db, claim, storedError(result.error), getHTTPStatusCodeFromError(result.error), { flush: false }).then(
      (stored) => stored && count("storedErrors"),
      (err: unknown) => ctx.logger.error({ err, path }, "could not store the idempotent error result"),
    );
  } else {
    await release(ctx, claim, path, count, result.error);
  }
  return result;
}

function isDeterministic(error: TRPCError): boolean {
  if (error.cause instanceof DomainError && error.cause.transient) return false;
  return DETERMINISTIC_ERRORS.has(error.code);
}

async function release(ctx: InnerContext, claim: Claim, path: string, count: Count, cause: unknown) {
  count("released");
  ctx.logger.warn({ err: cause, path }, "mutation failed unexpectedly: idempotency key released for a retry");
  // If even this fails (database down), the claim is recovered after its lease.
  await releaseClaim(ctx.db, claim).catch((err: unknown) => ctx.logger.error({ err, path }, "could not release the idempotency key"));
}

function storedError(error: TRPCError): StoredOutcome {
  let cause: StoredCause | undefined;
  if (error.cause instanceof ZodError) cause = { type: "zod", issues: error.cause.issues };
  else if (error.cause instanceof DomainError) {
    cause = { type: "domain", kind: error.cause.kind, message: error.cause.message, ...(error.cause.details ? { details: error.cause.details } : {}) };
  }
  return { type: "error", code: error.code, message: error.message, ...(cause ? { cause } : {}) };
}

/** The stored answer as a middleware result: the error formatter sees the same error (and cause) again. */
function replay(outcome: StoredOutcome): Result {
  if (outcome.type === "data") return { ok: true, data: outcome.data, marker: "middlewareMarker" as Result["marker"] };
  const cause =
    outcome.cause?.type === "zod"
      ? // ZodRealError: the Error subclass zod's parse throws (a plain `new ZodError` is not an Error, and tRPC would wrap it)
        new ZodRealError(outcome.cause.issues as ZodError["issues"])
      : outcome.cause?.type === "domain"
        ? new DomainError(outcome.cause.kind as DomainErrorKind, outcome.cause.message, outcome.cause.details)
        : undefined;
  throw new TRPCError({ code: outcome.code as TRPC_ERROR_CODE_KEY, message: outcome.message, cause });
}

/** The idempotency middleware, for the procedure ladder (trpc.ts). */
export const idempotency = t.middleware(idempotencyMiddleware);
