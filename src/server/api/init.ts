/**
 * The one initTRPC of MetaStore: context, meta, transformer and error shape. Middlewares
 * (middleware/*.ts) are built from this instance, and trpc.ts assembles them into the procedure
 * ladder; both import this module, so neither imports the other.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { z, ZodError } from "zod";
import { DomainError } from "../platform/errors";
import { responseTransformer, transformer } from "../platform/transformer";
import type { InnerContext } from "./context";
import { errorIdOf } from "./http/error-id";
import { TRPC_MAX_BATCH_SIZE } from "./limits";
import { inputProblem } from "./input-problem";
import type { ProcedureMeta } from "./procedure-meta";

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

export const t = initTRPC
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


type MiddlewareOptions = Parameters<Parameters<typeof t.middleware>[0]>[0];

/** What a middleware's `next()` resolves to (tRPC's MiddlewareResult), from the public API. */
export type MiddlewareResult = Awaited<ReturnType<MiddlewareOptions["next"]>>;
