/**
 * The worker fleet (issue 15): workers register themselves in PostgreSQL on their fleet beat, the
 * console lists them with BullMQ's counts, and a queue pause is kept in PostgreSQL so that it
 * survives Redis losing everything (restarted empty): the workers re-apply it.
 * Real PostgreSQL, a private redis-server this file restarts, real BullMQ workers.
 */
import { Queue, Worker } from "bullmq";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { pruneGone } from "~/server/reliability/fleet";
import { QueueName } from "~/server/contracts/queues";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { createInFlightTracker, startHeartbeat } from "~test/support/worker";

/** Short for a test, long enough that a loaded machine does not make a live worker look gone (3 missed beats). */
const BEAT_MS = 1000;
let redis: PrivateRedis;
let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
const logger = pino({ level: "silent" });
const closers: Array<() => Promise<unknown>> = [];

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

function startWorkerProcess(components: string[], inFlight = () => 0) {
  return startHeartbeat({
    connection: app.bullConnection,
    prefix: app.queuePrefix,
    redis: app.services.redis,
    db: app.services.db,
    logger,
    everyMs: BEAT_MS,
    fleet: { version: "9.9.9-test", components: () => components, concurrency: { "outbox-consumers": 4 }, jobsInFlight: inFlight },
  });
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  app = await createTestApp({ redisUrl: redis.url });
  operator = await app.createUser({ role: "operator" });
  viewer = await app.createUser({ role: "viewer" });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await app.close();
  await redis.close();
});

describe("worker registration", () => {
  it("lists a running worker as live with what it reported, and a stopped one as stopped", async () => {
    const hb = await startWorkerProcess(["outbox-consumers", "saga-runner"], () => 3);
    await hb.settled();
    const listed = await waitFor("the worker's row", async () => (await app.caller(viewer).admin.fleet.list()).workers.find((w) => w.id === hb.instanceId));
    expect(listed).toMatchObject({ pid: process.pid, version: "9.9.9-test", status: "live", jobsInFlight: 3, components: ["outbox-consumers", "saga-runner"], concurrency: { "outbox-consumers": 4 } });
    expect(listed.sinceLastBeatMs).toBeLessThan(5000);
    await hb.close();
    const after = (await app.caller(viewer).admin.fleet.list()).workers.find((w) => w.id === hb.instanceId);
    expect(after?.status).toBe("stopped");
  });

  it("shows a worker whose beats stopped (killed) as gone after missed beats, and prunes it later", async () => {
    const hb = await startWorkerProcess(["outbox-relay"]);
    await hb.settled();
    // A SIGKILLed process never says goodbye: its row just stops being refreshed. Age it as if it had
    // missed 3 beats, then 2 hours' worth.
    const stale = hb.instanceId;
    // Stop the timer without the clean-shutdown mark, as a kill would.
    await hb.close();
    await app.services.db.$executeRaw`UPDATE worker_instance SET stopped_at = NULL, last_heartbeat_at = now() - interval '4 seconds' WHERE id = ${stale}::uuid`;
    expect((await app.caller(viewer).admin.fleet.list()).workers.find((w) => w.id === stale)?.status).toBe("gone");
    await app.services.db.$executeRaw`UPDATE worker_instance SET last_heartbeat_at = now() - interval '2 hours' WHERE id = ${stale}::uuid`;
    expect(await pruneGone(app.services.db)).toBeGreaterThanOrEqual(1);
    expect((await app.caller(viewer).admin.fleet.list()).workers.find((w) => w.id === stale)).toBeUndefined();
  });

  it("counts the jobs a process is running right now", async () => {
    const tracker = createInFlightTracker();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker = new Worker("in-flight-probe", () => gate, { connection: app.bullConnection, prefix: app.queuePrefix, concurrency: 4 });
    tracker.track(worker);
    const queue = new Queue("in-flight-probe", { connection: app.bullConnection, prefix: app.queuePrefix });
    await queue.addBulk([1, 2, 3].map((i) => ({ name: "probe", data: { i } })));
    await waitFor("3 jobs in flight", async () => tracker.count() === 3);
    release();
    await waitFor("none in flight", async () => tracker.count() === 0);
    await worker.close();
    await queue.close();
  });
});

describe("queue counts and pausing", () => {
  it("shows BullMQ's own counts per queue", async () => {
    const queue = new Queue(QueueName.orphanBlobSweep, { connection: app.bullConnection, prefix: app.queuePrefix });
    closers.push(() => queue.close());
    await queue.add("probe", { graceMs: 60_000, maxDeletes: 1 }, { delay: 60_000 });
    await queue.add("probe", { graceMs: 60_000, maxDeletes: 1 });
    const list = await app.caller(viewer).admin.fleet.list();
    expect(list.redis).toBe("ok");
    const sweep = list.queues.find((q) => q.name === QueueName.orphanBlobSweep);
    expect(sweep).toMatchObject({ paused: false, pausable: true, counts: { waiting: 1, delayed: 1, active: 0 } });
    expect(list.queues.find((q) => q.name === QueueName.heartbeat)?.pausable).toBe(false);
    await queue.obliterate({ force: true });
  });

  it("refuses the heartbeat queue and unknown queues with a 400 that names the choices", async () => {
    for (const queue of ["heartbeat", "nope"]) {
      const res = await app.http("/api/trpc/admin.fleet.pauseQueue", {
        method: "POST",
        user: operator,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { queue } }),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("the heartbeat queue cannot be paused");
    }
    // A refused action leaves no audit row.
    expect(await app.services.db.operatorAudit.count({ where: { targetKind: "queue" } })).toBe(0);
  });

  it("keeps a pause through Redis restarted empty: a worker's beat pauses the queue again, and no job runs until resumed", async () => {
    const hb = await startWorkerProcess(["outbox-consumers"]);
    closers.push(hb.close);
    const queue = new Queue(QueueName.outboxRetention, { connection: app.bullConnection, prefix: app.queuePrefix });
    closers.push(() => queue.close());

    const paused = await app.caller(operator).admin.fleet.pauseQueue({ queue: QueueName.outboxRetention, reason: "draining before a migration" });
    expect(paused).toEqual({ queue: QueueName.outboxRetention, paused: true, appliedNow: true });
    expect(await queue.isPaused()).toBe(true);
    // Audit-logged in the same transaction as the desired state.
    const audit = await app.services.db.operatorAudit.findMany({ where: { action: "queue.pause", targetIds: { array_contains: [QueueName.outboxRetention] } } });
    expect(audit).toMatchObject([{ actorId: operator.id, targetKind: "queue", reason: "draining before a migration", outcome: "succeeded" }]);

    // Redis loses everything (a new server without persistence): BullMQ's own pause flag is gone with it.
    const runId = async () => /run_id:(\w+)/.exec(await redis.client().info("server"))?.[1];
    const before = await runId();
    await redis.stop();
    await redis.restart();
    expect(await runId()).not.toBe(before);
    await waitFor("the beat to pause the queue again", () => queue.isPaused());

    // The pause is real: a job queued now is not run until an operator resumes the queue.
    const ran: string[] = [];
    const worker = new Worker(QueueName.outboxRetention, async (job) => void ran.push(job.id!), { connection: app.bullConnection, prefix: app.queuePrefix });
    closers.push(() => worker.close());
    const job = await queue.add("probe", {});
    await new Promise((r) => setTimeout(r, 1500));
    expect(ran).toEqual([]);
    expect((await app.caller(viewer).admin.fleet.list()).queues.find((q) => q.name === QueueName.outboxRetention)).toMatchObject({ paused: true, desiredPaused: true, changedBy: operator.id });

    expect(await app.caller(operator).admin.fleet.resumeQueue({ queue: QueueName.outboxRetention })).toMatchObject({ paused: false, appliedNow: true });
    expect(await app.services.db.operatorAudit.count({ where: { action: "queue.resume", targetIds: { array_contains: [QueueName.outboxRetention] } } })).toBe(1);
    await waitFor("the job to run after resume", async () => ran.includes(job.id!));
    // And the beat does not pause it again: the desired state is now "running".
    await new Promise((r) => setTimeout(r, 2 * BEAT_MS));
    expect(await queue.isPaused()).toBe(false);
  });

  it("records a pause while Redis is down (answered within its deadline) and the workers apply it when Redis is back", async () => {
    const hb = await startWorkerProcess(["outbox-consumers"]);
    closers.push(hb.close);
    await redis.stop();
    const started = Date.now();
    const answer = await app.caller(operator).admin.fleet.pauseQueue({ queue: QueueName.idempotencyCleanup });
    expect(answer).toEqual({ queue: QueueName.idempotencyCleanup, paused: true, appliedNow: false });
    expect(Date.now() - started).toBeLessThan(10_000); // answered, not hung (the deadline is 1 s; slack for a busy machine)
    const listed = await app.caller(viewer).admin.fleet.list();
    expect(listed.redis).toBe("down");
    expect(listed.queues.find((q) => q.name === QueueName.idempotencyCleanup)).toMatchObject({ desiredPaused: true, paused: null, counts: null });

    await redis.restart();
    const queue = new Queue(QueueName.idempotencyCleanup, { connection: app.bullConnection, prefix: app.queuePrefix });
    closers.push(() => queue.close());
    await waitFor("the beat to apply the pause once Redis is back", () => queue.isPaused());
  });
});
