import { publicProcedure, createTRPCRouter } from "../trpc";

/** Liveness of the tRPC stack itself (no database, no Redis): also the benchmark's framework ceiling. */
export const healthRouter = createTRPCRouter({
  ping: publicProcedure.query(() => ({ ok: true as const })),
});
