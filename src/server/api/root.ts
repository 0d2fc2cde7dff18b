import { adminRouter } from "./routers/admin";
import { authRouter } from "./routers/auth";
import { filesRouter } from "./routers/files";
import { healthRouter } from "./routers/health";
import { createCallerFactory, createTRPCRouter } from "./trpc";

export const appRouter = createTRPCRouter({
  auth: authRouter,
  files: filesRouter,
  admin: adminRouter,
  health: healthRouter,
});

export type AppRouter = typeof appRouter;

/** Call procedures in-process (server components, tests): `createCaller(createInnerContext(...))`. */
export const createCaller = createCallerFactory(appRouter);
