/**
 * Upgrading a Redis Cluster deployment from one shared hash tag for every queue (`{app}:<queue>:…`)
 * to a tag per queue (`{app:<queue>}:<queue>:…`): jobs the old version queued under the old keys
 * must reach the new ones when the worker starts (moveLegacyQueueJobs). A local 3-master Redis
 * Cluster of this test's own (ports 4830-4832); jobs queued the old way with BullMQ itself.
 */
import { Queue, Worker, type Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { bullmqConnection, parseClusterNodes, queuePrefix } from "~/server/platform/redis";
import { startRedisCluster, type LocalRedisCluster } from "~test/support/redis-cluster";
import { waitFor } from "~test/support/wait-for";
import { moveLegacyQueueJobs } from "./legacy-queue-keys";

let cluster: LocalRedisCluster;
let connection: ReturnType<typeof bullmqConnection>;
const prefix = queuePrefix("defects-upgrade", { url: "redis://127.0.0.1:4830", clusterNodes: [{ host: "127.0.0.1", port: 4830 }] });

beforeAll(async () => {
  cluster = await startRedisCluster({ basePort: 4830, masters: 3, replicas: 0 });
  connection = bullmqConnection({ url: "redis://127.0.0.1:4830", clusterNodes: parseClusterNodes(cluster.nodesSpec) });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

/** Keys under `pattern` on every master of the cluster. */
async function keysOnCluster(pattern: string): Promise<string[]> {
  const { Redis } = await import("ioredis");
  const found: string[] = [];
  for (const port of [4830, 4831, 4832]) {
    const node = new Redis({ port, host: "127.0.0.1" });
    try {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== "0");
    } finally {
      node.disconnect();
    }
  }
  return found;
}

describe("jobs queued under the old shared hash tag", () => {
  it("are moved to each queue's own keys at start (ids, data, options and delays kept), and the old keys deleted", async () => {
    expect(prefix).toBe("{defects-upgrade}");
    // The old version: every queue under the app's one hash tag.
    const oldOutbox = new Queue(QueueName.outboxEvents, { connection, prefix });
    const oldSaga = new Queue(QueueName.sagaStep, { connection, prefix });
    for (let i = 0; i < 30; i += 1) await oldOutbox.add("file.uploaded", { n: i }, { jobId: `event-${i}`, attempts: 7, removeOnComplete: true });
    await oldSaga.add("upload:execute:2", { sagaId: "s1" }, { jobId: "s1_e2_g0", attempts: 4, backoff: { type: "exponential", delay: 500 } });
    await oldSaga.add("upload:execute:3", { sagaId: "s2" }, { jobId: "s2_e3_g0", delay: 60_000 });
    await oldSaga.add("upload:compensate:1", { sagaId: "s3" }, { jobId: "s3_c1_g0", priority: 5 });
    await oldOutbox.close();
    await oldSaga.close();
    expect((await keysOnCluster("{defects-upgrade}:*")).length).toBeGreaterThan(30);

    const moves = await moveLegacyQueueJobs({ connection, prefix });
    expect(moves).toEqual([
      { queue: QueueName.sagaStep, moved: 3, active: 0, cleared: true },
      { queue: QueueName.outboxEvents, moved: 30, active: 0, cleared: true },
    ]);
    expect(await keysOnCluster("{defects-upgrade}:*")).toEqual([]);

    const saga = new Queue(QueueName.sagaStep, { connection, prefix: queueKeyPrefix(prefix, QueueName.sagaStep) });
    const outbox = new Queue(QueueName.outboxEvents, { connection, prefix: queueKeyPrefix(prefix, QueueName.outboxEvents) });
    try {
      expect(await saga.getJobCounts("waiting", "delayed", "prioritized")).toEqual({ waiting: 1, delayed: 1, prioritized: 1 });
      const retried = await saga.getJob("s1_e2_g0");
      expect(retried).toMatchObject({ name: "upload:execute:2", data: { sagaId: "s1" }, opts: { attempts: 4, backoff: { type: "exponential", delay: 500 } } });
      const delayed = await saga.getJob("s2_e3_g0");
      // The delay keeps its due time (a minute after it was first queued, give or take this test's run).
      expect(delayed!.timestamp + delayed!.delay).toBeGreaterThan(Date.now() + 30_000);
      expect((await saga.getJob("s3_c1_g0"))!.opts.priority).toBe(5);

      // A worker of the new version on the new keys runs what the old version queued, each once.
      const seen: number[] = [];
      const worker = new Worker(QueueName.outboxEvents, async (job: Job<{ n: number }>) => void seen.push(job.data.n), {
        connection,
        prefix: queueKeyPrefix(prefix, QueueName.outboxEvents),
      });
      try {
        await waitFor("the moved outbox jobs to run", async () => seen.length >= 30, 20_000);
      } finally {
        await worker.close();
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));

      // A second start finds nothing left to move.
      expect(await moveLegacyQueueJobs({ connection, prefix })).toEqual([]);
    } finally {
      await saga.obliterate({ force: true });
      await outbox.obliterate({ force: true });
      await saga.close();
      await outbox.close();
    }
  });

  it("leaves what a still-running old worker holds (and the old keys) for the next start; drops a scheduler's jobs", async () => {
    const oldBulk = new Queue(QueueName.bulkOperations, { connection, prefix });
    const oldRetention = new Queue(QueueName.outboxRetention, { connection, prefix });
    await oldRetention.upsertJobScheduler("outbox-retention", { every: 60_000 }, { name: "retention", data: {} });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const oldWorker = new Worker(QueueName.bulkOperations, () => held, { connection, prefix });
    const current = new Queue(QueueName.bulkOperations, { connection, prefix: queueKeyPrefix(prefix, QueueName.bulkOperations) });
    try {
      await oldBulk.add("bulk", { op: "running" }, { jobId: "op-running" });
      await waitFor("the old worker to take its job", async () => (await oldBulk.getActiveCount()) === 1);
      await oldBulk.add("bulk", { op: "queued" }, { jobId: "op-queued" });

      const moves = await moveLegacyQueueJobs({ connection, prefix });
      expect(moves).toEqual([
        { queue: QueueName.outboxRetention, moved: 0, active: 0, cleared: true },
        { queue: QueueName.bulkOperations, moved: 1, active: 1, cleared: false },
      ]);
      expect(await current.getJob("op-queued")).toMatchObject({ data: { op: "queued" } });
      expect(await current.getJob("op-running")).toBeUndefined();
      expect(await keysOnCluster(`{defects-upgrade}:${QueueName.outboxRetention}:*`)).toEqual([]);

      // The old worker finishes; the next start deletes the old keys.
      release();
      await waitFor("the old worker's job to complete", async () => (await oldBulk.getActiveCount()) === 0);
      await oldWorker.close();
      await oldBulk.close();
      expect(await moveLegacyQueueJobs({ connection, prefix })).toEqual([{ queue: QueueName.bulkOperations, moved: 0, active: 0, cleared: true }]);
      expect(await keysOnCluster("{defects-upgrade}:*")).toEqual([]);
    } finally {
      release();
      await oldWorker.close();
      await oldBulk.close();
      await oldRetention.close();
      await current.obliterate({ force: true });
      await current.close();
    }
  });

  it("on one Redis (a plain prefix, the key names never changed) it does nothing", async () => {
    expect(await moveLegacyQueueJobs({ connection, prefix: "defects-plain" })).toEqual([]);
  });
});
