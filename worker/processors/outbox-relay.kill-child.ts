/**
 * A relay in a child process, for the SIGKILL test: it stops dead (hangs) right after claiming
 * (STAGE=claimed) or right after publishing (STAGE=published), says so on stdout, and waits to be
 * killed. Not a test file: outbox-relay.kill.test.ts runs it.
 */
import { pino } from "pino";
import { createDb } from "~/server/platform/db/client";
import { bullmqConnection } from "~/server/platform/redis";
import { startOutboxRelay } from "./outbox-relay";

const stage = process.env.STAGE as "claimed" | "published";
const db = createDb(process.env.DATABASE_URL!);
const hang = (what: string) => async (events: Array<{ id: string }>) => {
  process.stdout.write(`${what} ${events.length}\n`);
  await new Promise(() => {});
};
await startOutboxRelay({
  db,
  databaseUrl: process.env.DATABASE_URL!,
  connection: bullmqConnection(process.env.REDIS_URL!),
  prefix: process.env.PREFIX!,
  logger: pino({ level: "silent" }),
  options: {
    pollIntervalMs: 100,
    batchSize: 100,
    leaseMs: Number(process.env.LEASE_MS),
    relayId: "doomed-relay",
    hooks: stage === "claimed" ? { afterClaim: hang("CLAIMED") } : { afterPublish: hang("PUBLISHED") },
  },
});
