import { z } from "zod";
import { createTRPCRouter, viewerProcedure } from "../../trpc";

/** The console's search box: one text in, typed hits out (see features/console-search). */
export const searchAdminRouter = createTRPCRouter({
  find: viewerProcedure
    .input(
      z.object({
        q: z.string().trim().min(1, "type an id, a file name, a key, a request id or an e-mail to search for").max(200, "search for at most 200 characters"),
        limit: z.number().int().min(1, "limit must be at least 1").max(50, "limit can be at most 50").default(20),
      }),
    )
    .query(({ ctx, input }) => ctx.search.find(input.q, { limit: input.limit })),
});
