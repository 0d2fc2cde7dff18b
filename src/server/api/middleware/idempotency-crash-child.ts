/**
 * Child process for the crash test (idempotency.crash.test.ts): serves `files.upload` through the
 * real base procedure chain (idempotency middleware included) and the real files service, but stops
 * dead right after the mutation has executed — before the middleware completes the record and
 * commits. It prints EXECUTED and waits to be killed (SIGKILL: no cleanup code runs).
 *
 * Input (env): DATABASE_URL, REDIS_URL, QUEUE_PREFIX, STORAGE_DIR, USER_ID, IDEMPOTENCY_KEY,
 * LEASE_MS, CONTENT (the uploaded text).
 */
import { Redis } from "ioredis";
import { pino } from "pino";
import { z } from "zod";
import { authedProcedure, createCallerFactory, createInnerContext, createTRPCRouter, middleware } from "~/server/api/trpc";
import { createSignInThrottle } from "~/server/auth/sign-in-throttle";
import { createSessionManager } from "~/server/auth/session";
import { createDb } from "~/server/platform/db/client";
import { createFilesServiceWithOutbox } from "~/server/features/files/files-outbox";
import { redisConnectionOptions } from "~/server/platform/redis";
import type { AppServices } from "~/server/services";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`crash child: ${name} is not set`);
  return value;
};

const db = createDb(env("DATABASE_URL"), { max: 2 });
const redis = new Redis(redisConnectionOptions(env("REDIS_URL"), { maxRetriesPerRequest: 1 }));
const logger = pino({ level: "silent" });
const services: AppServices = {
  db,
  redis,
  storage: new LocalDiskStorage(env("STORAGE_DIR")),
  sessions: createSessionManager(db, { secret: "crash-child-secret-crash-child-secret-0", ttlSeconds: 60, secureCookie: false }),
  signInThrottle: createSignInThrottle({ redis, prefix: env("QUEUE_PREFIX"), logger }),
  logger,
  config: { maxUploadBytes: 1024 * 1024, queuePrefix: env("QUEUE_PREFIX"), idempotency: { leaseMs: Number(env("LEASE_MS")) } },
};

/** Runs after the procedure returned, before the idempotency middleware completes and commits. */
const stopAfterExecute = middleware(async ({ next }) => {
  const result = await next();
  process.stdout.write(`EXECUTED ${result.ok ? "ok" : "error"}\n`);
  await new Promise(() => {}); // wait for SIGKILL
  return result;
});

const router = createTRPCRouter({
  files: createTRPCRouter({
    upload: authedProcedure
      .use(stopAfterExecute)
      .input(z.instanceof(FormData))
      .mutation(async ({ ctx, input }) => {
        const file = input.get("file") as File;
        return createFilesServiceWithOutbox(ctx).upload({
          ownerId: ctx.user.id,
          name: file.name,
          declaredType: file.type,
          bytes: new Uint8Array(await file.arrayBuffer()),
          tags: [],
          maxBytes: ctx.config.maxUploadBytes,
        });
      }),
  }),
});

const user = await db.user.findUniqueOrThrow({ where: { id: env("USER_ID") }, select: { id: true, email: true, name: true, role: true } });
const caller = createCallerFactory(router)(
  createInnerContext(services, user, { headers: new Headers({ "Idempotency-Key": env("IDEMPOTENCY_KEY") }), resHeaders: new Headers() }),
);
const form = new FormData();
form.append("file", new File([env("CONTENT")], "crash.txt", { type: "text/plain" }));
await caller.files.upload(form);
process.stdout.write("COMPLETED (the test expected to kill this process first)\n");
process.exit(1);
