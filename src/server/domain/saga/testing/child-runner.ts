/**
 * A saga worker as a child process, for the crash tests: the test SIGKILLs it at random instants.
 * Env: DATABASE_URL, REDIS_URL, QUEUE_PREFIX, plus SAGA_* timings. SAGA_CHILD_SAGAS=upload runs the
 * real file-upload saga (on STORAGE_DIR, each step first pausing up to SAGA_CHILD_DELAY_MS so kills
 * land mid-step) instead of the test sagas.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { createDb } from "~/server/platform/db/client";
import { bullmqConnection } from "~/server/platform/redis";
import { startSagaRunner } from "../../../../../worker/processors/saga-runner";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";
import { createSagaRegistry } from "../../../reliability/saga/definition";
import { fileUploadSaga } from "../../../features/files/upload-saga";
import { testSagaRegistry } from "./test-sagas";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const db = createDb(env("DATABASE_URL"), { max: 6 });
const delayMs = Number(process.env.SAGA_CHILD_DELAY_MS ?? 0);
const registry =
  process.env.SAGA_CHILD_SAGAS === "upload"
    ? createSagaRegistry([
        fileUploadSaga({ db, storage: new LocalDiskStorage(env("STORAGE_DIR")), inject: async () => void (await sleep(Math.random() * delayMs)) }),
      ])
    : testSagaRegistry(db, { timeoutMs: Number(process.env.SAGA_TIMEOUT_MS ?? 2000) });
const runner = await startSagaRunner({
  connection: bullmqConnection(env("REDIS_URL")),
  prefix: env("QUEUE_PREFIX"),
  db,
  databaseUrl: env("DATABASE_URL"),
  registry,
  logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
  concurrency: Number(process.env.SAGA_CONCURRENCY ?? 4),
  lockDurationMs: Number(process.env.SAGA_LOCK_MS ?? 1500),
  stalledIntervalMs: Number(process.env.SAGA_STALLED_MS ?? 500),
  sweepEveryMs: Number(process.env.SAGA_SWEEP_MS ?? 500),
  stuckAfterMs: Number(process.env.SAGA_STUCK_MS ?? 2000),
});
process.send?.("ready");
process.on("SIGTERM", () => {
  void runner.close().then(() => db.$disconnect()).then(() => process.exit(0));
});
