/**
 * The one initTRPC of MetaStore: context, meta, error shape and the base procedures.
 * Stricter procedures are the base plus named middlewares that narrow the context.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { z, ZodError } from "zod";
import { PASSWORD_CHANGE_REQUIRED_MESSAGE } from "../auth/password-rules";
import type { SessionUser } from "../auth/session";
import { isDatabaseUnreachable } from "../platform/db/unreachable";
import { DomainError, type DomainErrorKind } from "../platform/errors";
import type { AppServices } from "../services";
import { responseTransformer, transformer } from "../platform/transformer";
import { TRPC_MAX_BATCH_SIZE } from "./limits";
import { idempotencyMiddleware } from "./middleware/idempotency";
import { cacheMiddleware, type CacheMeta, type InvalidatesMeta } from "./middleware/cache";
import { errorIdOf } from "./http/error-id";
import { crossSiteRefusal, isSafeMethod } from "./http/origin-check";
import { inputGuardMiddleware, inputProblem } from "./middleware/input-guard";
import { tracingMiddleware } from "./middleware/tracing";
import { correlationIdFromHeaders, newCorrelationId } from "../platform/correlation";

/** Request-scoped facts the HTTP layer knows; absent when a procedure is called in-process. */
export interface RequestMeta {
  headers: Headers;
  /** Response headers the procedure may add to (Set-Cookie, Idempotent-Replayed, Retry-After). */
  resHeaders: Headers;
  /** Assigned at the HTTP edge (platform/correlation.ts) and sent back as X-Request-Id. */
  correlationId?: string;
  /**
   * Set by the HTTP handler's context only: the call's result is serialized by tRPC's response
   * transformer (and never seen by other code), so a cached result may stay serialized.
   */
  serializedByHandler?: boolean;
}

/** The inner context: what tests and server components build directly (no HTTP needed). */
export interface InnerContext extends AppServices {
  user: SessionUser | null;
  request: RequestMeta | null;
  /** Joins this call's records, events, jobs and log lines (see platform/correlation.ts). */
  correlationId: string;
}

/** The logger is the process's, narrowed to this request: every line it writes names the correlation id. */
export function createInnerContext(services: AppServices, user: SessionUser | null, request: RequestMeta | null = null): InnerContext {
  const correlationId = request?.correlationId ?? newCorrelationId();
  return { ...services, logger: services.logger.child({ correlationId }), user, request, correlationId };
}

/** Clients meet an unreachable database as a 503 they can retry, never as the driver's message. */
export const DATABASE_UNAVAILABLE_MESSAGE = "MetaStore cannot reach its database right now: try again in a minute";

/**
 * The outer context: refuses cross-site mutations (CSRF: see http/origin-check.ts), then reads the
 * session cookie from the HTTP request. Errors thrown here answer every call of the request.
 */
export async function createHttpContext(
  services: AppServices,
  opts: { req: Request; resHeaders: Headers },
  readSessionCookie: (req: Request) => string | undefined,
  correlationId: string = correlationIdFromHeaders(opts.req.headers),
): Promise<InnerContext> {
  if (!isSafeMethod(opts.req.method)) {
    const refusal = crossSiteRefusal(opts.req, services.config.appOrigin);
    if (refusal) throw new TRPCError({ code: "FORBIDDEN", message: refusal });
  }
  let user: SessionUser | null;
  try {
    user = await services.sessions.resolve(readSessionCookie(opts.req));
  } catch (error) {
    if (isDatabaseUnreachable(error)) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE, cause: error });
    throw error;
  }
  return createInnerContext(services, user, { headers: opts.req.headers, resHeaders: opts.resHeaders, correlationId, serializedByHandler: true });
}

/**
 * Behaviour declared per procedure and read by middlewares (the tRPC form of the original
 * design's decorators). Fields are added by the cache and idempotency modules.
 */
export interface ProcedureMeta {
  /** Human label for logs and the dashboard. */
  description?: string;
  /** Idempotency-Key handling (on by default for every mutation); `false` for mutations that must not replay (auth). */
  idempotency?: boolean;
  /** Cache-aside for a query (ttl seconds, key prefix, tags): see middleware/cache.ts. */
  cache?: CacheMeta;
  /** Cache tags a mutation touches, invalidated after it commits. */
  invalidates?: InvalidatesMeta;
  /**
   * Callable by a session that must still replace its one-time password (reading the session,
   * changing the password, signing in or out). Every other procedure refuses such a session.
   */
  allowedBeforePasswordChange?: boolean;
}

/** tRPC's own message when a batch exceeds the handler's maxBatchSize: replaced by one a person can act on. */
const TRPC_BATCH_TOO_LARGE = "Batch call exceeds maximum size";

/**
 * The transformer, with the request side guarded: an input is checked as it arrived (before
 * superjson rebuilds it, which silently drops a "__proto__" key and walks the nesting) and a
 * superjson refusal (a prototype path in its meta) is a 400 saying so, not a 500.
 */
const requestTransformer = {
  serialize: transformer.serialize,
  deserialize(raw: unknown) {
    const problem = inputProblem(raw && typeof raw === "object" && "json" in raw ? raw.json : raw);
    if (problem) throw new TRPCError({ code: "BAD_REQUEST", message: `Invalid input: ${problem}` });
    try {
      return transformer.deserialize(raw as Parameters<typeof transformer.deserialize>[0]);
    } catch (error) {
      throw new TRPCError({ code: "BAD_REQUEST", message: `The input could not be decoded: ${error instanceof Error ? error.message : String(error)}`, cause: error });
    }
  },
};

const t = initTRPC
  .context<InnerContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer: { input: requestTransformer, output: responseTransformer },
    // Live console streams (admin.live): a ping keeps proxies from closing a quiet stream, and a
    // client that hears nothing (not even a ping) for longer reconnects on its own.
    sse: { ping: { enabled: true, intervalMs: 10_000 }, client: { reconnectAfterInactivityMs: 25_000 } },
    errorFormatter({ shape, error }) {
      const zodError = error.cause instanceof ZodError ? error.cause : null;
      // Stack traces are for logs, never for clients.
      const { stack: _stack, ...data } = shape.data;
      // An unexpected failure's message is the cause's (Prisma, pg, file paths): it stays in the log
      // line, found by the error id the client is given.
      const errorId = error.code === "INTERNAL_SERVER_ERROR" ? errorIdOf(error) : null;
      const message = zodError
        ? `Invalid input: ${z.prettifyError(zodError)}` // a readable summary for people
        : error.message === TRPC_BATCH_TOO_LARGE
          ? `A batch may carry at most ${TRPC_MAX_BATCH_SIZE} calls: send the calls in smaller batches`
          : error.code === "INTERNAL_SERVER_ERROR"
          ? `Something went wrong on our side${errorId ? ` (error id ${errorId})` : ""}: try again, and if it keeps failing give the error id to an operator`
          : shape.message;
      return {
        ...shape,
        message,
        data: {
          ...data,
          errorId,
          zodError: zodError ? z.flattenError(zodError) : null,
          details: error.cause instanceof DomainError ? (error.cause.details ?? null) : null,
        },
      };
    },
  });

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
const inputGuard = t.middleware(inputGuardMiddleware);
const tracing = t.middleware(tracingMiddleware);
const cache = t.middleware(cacheMiddleware);
const idempotency = t.middleware(idempotencyMiddleware);

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
