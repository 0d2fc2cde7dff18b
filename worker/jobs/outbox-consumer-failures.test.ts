/**
 * A consumer job that BullMQ fails without running the handler (it stalled more than
 * maxStalledCount times: the workers holding it died) used to leave its event `published`, with no
 * job and no record, for good. The consumers' `failed` listener now records it in PostgreSQL and
 * hands the event back to the relay's retry path. Real PostgreSQL, Redis and BullMQ.
 */
import { randomUUID } from "node:crypto";
import { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { createTestApp, type TestApp } from "~test/support/app";
import { startOutboxConsumers } from "./outbox-consumers";
import { appendTagged, recordingConsumer, silent, startRelay, waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
});
afterAll(() => app.close());

const db = () => app.services.db;

describe("consumer jobs failed by BullMQ itself", () => {
  it("a job that stalled out (its worker died holding it) is recorded in PostgreSQL and its event delivered again, in order", async () => {
    const relay = await startRelay(app, { pollIntervalMs: 100 });
    const fileId = randomUUID();
    const first = await appendTagged(db(), fileId, ["a"]);
    const second = await appendTagged(db(), fileId, ["b"]);
    // A worker takes the job and dies holding it: nobody renews its 300 ms lock.
    const dying = new Worker(QueueName.outboxEvents, null, { connection: app.bullConnection, prefix: queueKeyPrefix(app.queuePrefix, QueueName.outboxEvents), lockDuration: 300 });
    const taken = await waitFor("the dying worker to take the job", async () => (await dying.getNextJob("dying-worker-token")) ?? false);
    expect(taken.id).toBe(first.id);
    await dying.close(true);

    // Healthy consumers whose stall check fails a job at its first stall (production: BullMQ's 1).
    const recorder = recordingConsumer();
    const consumers = await startOutboxConsumers({
      db: db(),
      connection: app.bullConnection,
      prefix: app.queuePrefix,
      logger: silent,
      storage: app.services.storage,
      consumers: [recorder.consumer],
      options: { concurrency: 4, lockDurationMs: 1000, stalledIntervalMs: 200, maxStalledCount: 0 },
    });
    try {
      const recorded = await waitFor("the stall-out to be recorded", async () => {
        const row = await db().outboxEvent.findUniqueOrThrow({ where: { id: first.id } });
        return row.lastFailedAt ? row : false;
      });
      expect(recorded.lastError).toBe("consumer job: job stalled more than allowable limit");
      expect(recorded.attempts).toBe(1); // an attempt was spent: an event that keeps killing workers ends dead
      await waitFor("both events consumed", async () => (await db().outboxEvent.count({ where: { id: { in: [first.id, second.id] }, consumedAt: { not: null } } })) === 2);
      expect(recorder.seen.get(fileId)).toEqual([1, 2]);
      expect(consumers.stats.failed).toBeGreaterThanOrEqual(1);
    } finally {
      await consumers.close();
      await relay.close();
    }
  });
});
