import { z } from "zod";
import { isCorrelationId } from "../../../platform/correlation";
import type { TraceAnchor } from "../../../reliability/trace/trace-query";
import { createTRPCRouter, viewerProcedure } from "../../trpc";

const uuidOf = (what: string) => z.uuid({ message: `must be ${what} id (a UUID)` });

/** What a trace can start from: each kind with the id shape it takes. */
export const traceAnchorSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("correlation"),
    id: z.string().trim().refine(isCorrelationId, "must be a correlation id: 1–128 letters, digits or . _ : - (the X-Request-Id of a response)"),
  }),
  z.object({ kind: z.literal("event"), id: uuidOf("an outbox event") }),
  z.object({ kind: z.literal("saga"), id: uuidOf("a saga") }),
  z.object({ kind: z.literal("idempotency"), id: uuidOf("an idempotency record") }),
  z.object({ kind: z.literal("file"), id: uuidOf("a file") }),
]);

/** The trace page: one action's request, record, saga, events and consumer runs, from PostgreSQL. */
export const traceAdminRouter = createTRPCRouter({
  get: viewerProcedure.input(traceAnchorSchema).query(async ({ ctx, input }) => {
    // A file is the files feature's outbox aggregate; the trace query itself knows no features.
    const anchor: TraceAnchor = input.kind === "file" ? { kind: "aggregate", aggregateType: "file", id: input.id } : input;
    const trace = await ctx.trace.get(anchor);
    return { ...trace, anchor: input };
  }),
});
