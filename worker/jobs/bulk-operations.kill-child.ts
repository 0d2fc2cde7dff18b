/**
 * A bulk-operations worker in a child process, for the SIGKILL test (bulk-operations.kill.test.ts
 * runs it and kills it mid-run). Not a test file.
 */
import { pino } from "pino";
import { createDb } from "~/server/platform/db/client";
import { bullmqConnection } from "~/server/platform/redis";
import { startBulkOperations } from "./bulk-operations";

const db = createDb(process.env.DATABASE_URL!);
await startBulkOperations({
  db,
  connection: bullmqConnection(process.env.REDIS_URL!),
  prefix: process.env.PREFIX!,
  logger: pino({ level: "silent" }),
  options: { sweepEveryMs: 60_000, staleAfterMs: 60_000 },
});
process.stdout.write("READY\n");
