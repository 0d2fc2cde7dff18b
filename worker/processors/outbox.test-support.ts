/**
 * Shared pieces of the outbox tests (not a test file itself): start relays/consumers on a test
 * app's own database and Redis prefix, write events, wait for conditions.
 */
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { pino } from "pino";
import type { Db } from "~/server/platform/db/client";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { QueueName } from "~/server/contracts/queues";
import type { TestApp } from "~test/support/app";
import { startOutboxConsumers } from "./outbox-consumers";
import { startOutboxRelay, type OutboxRelayOptions } from "./outbox-relay";
import type { EventConsumer } from "./consumers";

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

export async function waitFor<T>(what: string, probe: () => Promise<T | false | null | undefined>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Commit one file.tagged event for the aggregate (a file id), in its own transaction. */
export function appendTagged(db: Db, fileId: string, tags: string[] = [], maxAttempts?: number) {
  return inTransaction(db, (tx) =>
    appendEvent(tx, { type: "file.tagged", aggregateId: fileId, payload: { fileId, ownerId: fileId, tags }, ...(maxAttempts ? { maxAttempts } : {}) }),
  );
}

export function startRelay(app: TestApp, options: Partial<OutboxRelayOptions> = {}, connection = app.bullConnection) {
  return startOutboxRelay({
    db: app.services.db,
    databaseUrl: app.databaseUrl,
    connection,
    prefix: app.prefix,
    logger: silent,
    options: { pollIntervalMs: 200, batchSize: 50, leaseMs: 5000, consumerJob: { attempts: 3, backoffMs: 20 }, ...options },
  });
}

export function startConsumers(app: TestApp, consumers: EventConsumer[], concurrency = 8) {
  return startOutboxConsumers({
    db: app.services.db,
    connection: app.bullConnection,
    prefix: app.prefix,
    logger: silent,
    storage: app.services.storage,
    consumers,
    options: { concurrency },
  });
}

/** A consumer that records, per aggregate, the sequence numbers it handled, in handling order. */
export function recordingConsumer(name = `recorder-${randomUUID().slice(0, 6)}`, handles: string[] = ["file.tagged"]) {
  const seen = new Map<string, number[]>();
  const consumer: EventConsumer = {
    name,
    handles,
    // Exercises the shared-transaction inbox path (ordering must hold through it too).
    batchable: true,
    async handle(event) {
      seen.set(event.aggregateId, [...(seen.get(event.aggregateId) ?? []), event.aggregateSeq]);
    },
  };
  return { consumer, seen, total: () => [...seen.values()].reduce((n, s) => n + s.length, 0) };
}

export function outboxQueue(app: TestApp, connection = app.bullConnection) {
  return new Queue(QueueName.outboxEvents, { connection, prefix: app.prefix });
}

export async function statusCounts(db: Db) {
  const rows = await db.outboxEvent.groupBy({ by: ["status"], _count: { _all: true } });
  return Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
}
