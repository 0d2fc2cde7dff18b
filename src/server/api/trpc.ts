/**
 * The procedure ladder: the base procedures, each the one initTRPC (init.ts) plus named
 * middlewares that narrow the context. Context and meta types live in context.ts and
 * procedure-meta.ts, re-exported here for the routers.
 */
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { PASSWORD_CHANGE_REQUIRED_MESSAGE } from "../auth/password-rules";
import type { SessionUser } from "../auth/session";
import { isDatabaseUnreachable } from "../platform/db/unreachable";
import { DomainError, type DomainErrorKind } from "../platform/errors";
import { DATABASE_UNAVAILABLE_MESSAGE } from "./context";
import { t } from "./init";
import { cache } from "./middleware/cache";
import { idempotency } from "./middleware/idempotency";
import { inputGuard } from "./middleware/input-guard";
import { tracing } from "./middleware/tracing";

export { createHttpContext, createInnerContext, DATABASE_UNAVAILABLE_MESSAGE, type InnerContext, type RequestMeta } from "./context";
export type { ProcedureMeta } from "./procedure-meta";

export const createCallerFactory = t.createCallerFactory;
export const createTRPCRouter = t.router;
export const middleware = t.middleware;

const DOMAIN_TO_TRPC: Record<DomainErrorKind, TRPC_ERROR_CODE_KEY> = {
  bad_input: "BAD_REQUEST",
  not_found: "NOT_FOUND",
  forbidden: "FORBIDDEN",
  conflict: "CONFLICT",
  too_large: "PAYLOAD_TOO_LARGE",
  unsupported: "UNSUPPORTED_MEDIA_TYPE",
  precondition_failed: "PRECONDITION_FAILED",
  unavailable: "SERVICE_UNAVAILABLE",
};

/** Turn the domain's deliberate errors into the matching tRPC codes; anything else stays a 500. */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof DomainError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: DOMAIN_TO_TRPC[cause.kind], message: cause.message, cause });
  }
  return result;
});

/**
 * An unreachable database, wherever it surfaced (the cache or idempotency middlewares included),
 * is a 503 with a retry hint; other unexpected errors stay 500s with a generic message (errorFormatter).
 */
const databaseUnavailable = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR" && isDatabaseUnreachable(result.error)) {
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE, cause: result.error.cause });
  }
  return result;
});

/**
 * Outermost: times every procedure call with the status its caller gets (after the 503 and domain
 * error mappings inside it). Only known procedure paths reach a middleware, so the label stays bounded.
 */
const requestTiming = t.middleware(async ({ ctx, path, next }) => {
  if (!ctx.requestMetrics) return next();
  const started = performance.now();
  const result = await next();
  ctx.requestMetrics.observeProcedure(path, result.ok ? 200 : getHTTPStatusCodeFromError(result.error), (performance.now() - started) / 1000);
  return result;
});

const requireUser = t.middleware(({ ctx, next }) => {
  if (!ctx.user) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "You are not signed in (or your session expired): sign in and try again" });
  }
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/**
 * A session whose account still holds an operator-issued one-time password may do nothing but
 * replace it: enforced here for every procedure, so no page or script can skip the change.
 * The flag comes from the resolved session, which the session cache drops when the password changes.
 */
const passwordChangeGate = t.middleware(({ ctx, meta, next }) => {
  if (ctx.user?.mustChangePassword && !meta?.allowedBeforePasswordChange) {
    throw new TRPCError({ code: "FORBIDDEN", message: PASSWORD_CHANGE_REQUIRED_MESSAGE });
  }
  return next();
});

function requireRole(roles: ReadonlyArray<SessionUser["role"]>, what: string) {
  return t.middleware(({ ctx, next }) => {
    if (!ctx.user || !roles.includes(ctx.user.role)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `Only ${what} may do this; your role is ${ctx.user?.role ?? "none"}` });
    }
    return next();
  });
}

/**
 * The reliability middlewares every procedure gets, in this order: the query cache outermost (so a
 * mutation's invalidation runs after its transaction has committed), then idempotency (it sees the
 * final tRPC error codes and wraps the rest in one transaction), then the domain error mapping.
 * Sign-in and role checks run BEFORE them: a refused caller never claims an Idempotency-Key nor
 * reads the cache, so a FORBIDDEN is not stored and replayed after the role is granted.
 */

// Outside everything, the timing, then only the mapping of an unreachable database to 503 (a session lookup can hit it).
// Sign-in and role first (401/403 whatever the input), then the raw input guard (before anything
// walks the input), then the reliability middlewares, then the domain error mapping.
// The procedure's span is outermost of all, so its duration and status are the caller's.
export const publicProcedure = t.procedure.use(tracing).use(requestTiming).use(databaseUnavailable).use(passwordChangeGate).use(inputGuard).use(cache).use(idempotency).use(domainErrors);
/** A signed-in user of any role. */
export const authedProcedure = t.procedure.use(tracing).use(requestTiming).use(databaseUnavailable).use(requireUser).use(passwordChangeGate).use(inputGuard).use(cache).use(idempotency).use(domainErrors);
/** Read access to the operator dashboard: viewers and operators. */
export const viewerProcedure = t.procedure
  .use(tracing)
  .use(requestTiming)
  .use(databaseUnavailable)
  .use(requireUser)
  .use(passwordChangeGate)
  .use(requireRole(["viewer", "operator"], "viewers and operators"))
  .use(inputGuard)
  .use(cache)
  .use(idempotency)
  .use(domainErrors);
/** Operator actions (retry, discard, flush…). */
export const operatorProcedure = t.procedure
  .use(tracing)
  .use(requestTiming)
  .use(databaseUnavailable)
  .use(requireUser)
  .use(passwordChangeGate)
  .use(requireRole(["operator"], "operators"))
  .use(inputGuard)
  .use(cache)
  .use(idempotency)
  .use(domainErrors);
