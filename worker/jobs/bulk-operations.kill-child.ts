/**
 * A bulk-operations worker in a child process, for the SIGKILL test (bulk-operations.kill.test.ts
 * runs it and kills it mid-run). Not a test file.
 */
import { pino } from "pino";
import { createDb } from "~/server/platform/db/client";
import { bullmqConnection } from "~/server/platform/redis";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";
import { appSagaRegistry } from "~/server/app-sagas";
import { startBulkOperations } from "./bulk-operations";

const db = createDb(process.env.DATABASE_URL!);
await startBulkOperations({
  db,
  connection: bullmqConnection(process.env.REDIS_URL!),
  prefix: process.env.PREFIX!,
  logger: pino({ level: "silent" }),
  // The app's sagas, as the worker knows them: bulk actions on sagas drive them (nothing runs their steps here).
  sagaRegistry: appSagaRegistry({ db, storage: new LocalDiskStorage(process.env.STORAGE_DIR ?? ".data/bulk-kill-child") }),
  options: { sweepEveryMs: 60_000, staleAfterMs: 60_000 },
});
process.stdout.write("READY\n");
