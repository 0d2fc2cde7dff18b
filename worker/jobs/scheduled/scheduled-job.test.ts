/**
 * Periodic jobs are BullMQ job schedulers, which live only in Redis. A Redis restarted empty or
 * flushed forgot them, and a healthy worker then never ran them again. Private redis-server.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueName } from "~/server/contracts/queues";
import { bullmqConnection } from "~/server/platform/redis";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { silent, waitFor } from "~test/fixtures/outbox.test-support";
import { startScheduledJob } from "./scheduled-job";

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(() => redis?.close());

async function countingJob() {
  const runs: number[] = [];
  const job = await startScheduledJob({
    queue: QueueName.outboxRetention,
    everyMs: 200,
    recheckEveryMs: 200,
    data: {},
    connection: bullmqConnection(redis.url),
    prefix: `sched-${randomUUID().slice(0, 8)}`,
    logger: silent,
    run: async () => void runs.push(Date.now()),
  });
  return { job, runs };
}

describe("scheduled jobs after Redis lost everything", () => {
  it("FLUSHALL: the scheduler is registered again and the job keeps running", async () => {
    const { job, runs } = await countingJob();
    try {
      await waitFor("two runs", async () => runs.length >= 2);
      await redis.client().flushall();
      const flushedAt = Date.now();
      await waitFor("runs after the flush", async () => runs.filter((t) => t > flushedAt + 50).length >= 2, 10_000);
      expect(await job.queue.getJobScheduler(QueueName.outboxRetention)).toBeDefined();
    } finally {
      await job.close();
    }
  });

  it("Redis restarted empty: the same, once Redis answers again", async () => {
    const { job, runs } = await countingJob();
    try {
      await waitFor("a run", async () => runs.length >= 1);
      await redis.stop();
      await new Promise((r) => setTimeout(r, 300));
      await redis.restart();
      const restartedAt = Date.now();
      await waitFor("runs after the restart", async () => runs.filter((t) => t > restartedAt).length >= 2, 15_000);
    } finally {
      await job.close();
    }
  });
});
