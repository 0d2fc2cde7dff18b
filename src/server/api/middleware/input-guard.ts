import { TRPCError } from "@trpc/server";
import { inputProblem } from "../input-problem";
import { t } from "../init";

export { inputProblem, MAX_INPUT_DEPTH } from "../input-problem";

/**
 * The same check as a middleware, for callers that bypass the HTTP transformer (server components,
 * createCaller). A multipart request is left alone: reading its raw input would parse the whole
 * body before the upload size guard has looked at its Content-Length, and a FormData carries no
 * JSON structure to check.
 */
export async function inputGuardMiddleware<T>(opts: {
  ctx: { request: { headers: Headers } | null };
  getRawInput: () => Promise<unknown>;
  next: () => Promise<T>;
}): Promise<T> {
  if (opts.ctx.request?.headers.get("content-type")?.toLowerCase().startsWith("multipart/form-data")) return opts.next();
  const problem = inputProblem(await opts.getRawInput());
  if (problem) throw new TRPCError({ code: "BAD_REQUEST", message: `Invalid input: ${problem}` });
  return opts.next();
}

/** The input guard, for the procedure ladder (trpc.ts). */
export const inputGuard = t.middleware(inputGuardMiddleware);
