/**
 * A Redis Cluster master fails over in the middle of load (`CLUSTER FAILOVER` on its replica: the
 * replica takes the master's slots, the old master becomes its replica), and the system converges:
 * every outbox event committed before, during and after the switch is consumed exactly once in
 * effect (one inbox row per consumer and event, each aggregate's events handled once, in order),
 * and every saga started around it finishes (none left running or compensating).
 *
 * The master chosen is the one serving the outbox queue's slot (each queue has its own hash tag),
 * so the relay and the consumers lose their master mid-load; the saga step queue's slot is on that
 * master or another one, depending on the test's random prefix, and the sagas must finish either way. Runs only under `npm run test:redis-cluster` (REDIS_CLUSTER_NODES set).
 */
import calculateSlot from "cluster-key-slot";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createSagaRegistry } from "~/server/reliability/saga/definition";
import { fileUploadSaga } from "~/server/features/files/upload-saga";
import { startOutboxReconciler } from "../../worker/jobs/outbox-reconciler";
import { appendTagged, recordingConsumer, startConsumers, startRelay, waitFor } from "~test/fixtures/outbox.test-support";
import { startSagaRunner } from "../../worker/jobs/saga-runner";
import { createTestApp, type TestApp } from "~test/support/app";
import { clusterView, portsOf, type ClusterView } from "~test/support/redis-cluster";

const AGGREGATES = 20;
const EVENTS_PER_AGGREGATE = 15;
const UPLOADS = 12;
const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

let app: TestApp;
let view: ClusterView;
let alice: SessionUser;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const nodes = process.env.REDIS_CLUSTER_NODES;
  if (!nodes) throw new Error("failover.test.ts runs under `npm run test:redis-cluster` (REDIS_CLUSTER_NODES unset)");
  view = clusterView(portsOf(nodes));
  app = await createTestApp({ maxUploadBytes: 64 * 1024 });
  alice = await app.createUser();
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await app?.close();
  view?.close();
});

function form(content: string, name: string) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  return fd;
}

describe("Redis Cluster failover under load", () => {
  it("a master failing over mid-load loses no event, duplicates no effect and strands no saga", async () => {
    expect(app.queuePrefix).toBe(`{${app.prefix}}`);
    // The outbox queue's own slot (each queue has one: contracts/queues.ts queueKeyPrefix).
    const queueSlot = calculateSlot(`${queueKeyPrefix(app.queuePrefix, QueueName.outboxEvents)}:${QueueName.outboxEvents}:wait`);
    // Replicas are announced through the cluster bus a moment after their link is up.
    const before = await waitFor("an online replica of the outbox queue's master", async () => {
      const shard = await view.shardOf(queueSlot);
      return shard.replicas.length > 0 ? shard : null;
    }, 20_000, 100);

    const recorder = recordingConsumer("failover-recorder", ["file.tagged", "file.uploaded"]);
    const runner = await startSagaRunner({
      connection: app.bullConnection,
      prefix: app.queuePrefix,
      db: app.services.db,
      databaseUrl: app.databaseUrl,
      registry: createSagaRegistry([fileUploadSaga({ db: app.services.db, storage: app.services.storage })]),
      logger: silent,
      concurrency: 4,
      sweepEveryMs: 500,
      stuckAfterMs: 3000,
    });
    stops.push(() => runner.close());
    const consumers = await startConsumers(app, [recorder.consumer]);
    stops.push(() => consumers.close());
    const relay = await startRelay(app, { pollIntervalMs: 200, batchSize: 50 });
    stops.push(() => relay.close());
    // What a worker runs to resend events whose job a Redis lost (a failover may drop acknowledged writes).
    const reconciler = await startOutboxReconciler({ db: app.services.db, connection: app.bullConnection, prefix: app.queuePrefix, logger: silent, options: { stalledAfterMs: 3000, everyMs: 1000 } });
    stops.push(() => reconciler.close());

    const aggregates = Array.from({ length: AGGREGATES }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`);
    let failedOver: { master: number; replicas: number[] } | null = null;
    const sagaIds: string[] = [];

    // The load: rounds of one event per aggregate, and uploads (sagas) started from the web path
    // (the app's own Redis client dispatches the first step), spread over the rounds.
    for (let round = 0; round < EVENTS_PER_AGGREGATE; round++) {
      await Promise.all(aggregates.map((id) => appendTagged(app.services.db, id, [`r${round}`])));
      if (round % Math.ceil(EVENTS_PER_AGGREGATE / UPLOADS) === 0 && sagaIds.length < UPLOADS) {
        const started = await app.caller(alice).files.startUpload(form(`upload ${round}`, `upload-${round}.txt`));
        sagaIds.push(started.sagaId);
      }
      if (round === Math.floor(EVENTS_PER_AGGREGATE / 3)) {
        // Mid-load: the replica takes over (the manual failover waits for it to catch up first).
        const promoted = before.replicas[0]!;
        expect(await view.node(promoted).call("CLUSTER", "FAILOVER")).toBe("OK");
        failedOver = await waitFor("the replica to become the master of the outbox queue's slot", async () => {
          const now = await view.shardOf(queueSlot).catch(() => null);
          return now && now.master === promoted ? now : null;
        }, 20_000, 50);
      }
    }
    while (sagaIds.length < UPLOADS) sagaIds.push((await app.caller(alice).files.startUpload(form(`late ${sagaIds.length}`, `late-${sagaIds.length}.txt`))).sagaId);
    expect(failedOver?.master).not.toBe(before.master);
    // The old master turns into the new one's replica once it has resynced (announced over the bus).
    await waitFor("the old master to follow the promoted replica", async () => (await view.shardOf(queueSlot)).replicas.includes(before.master), 20_000, 100);

    const db = app.services.db;
    const taggedTotal = AGGREGATES * EVENTS_PER_AGGREGATE;
    await waitFor(
      "every event consumed and every saga finished",
      async () => {
        const [unconsumed, moving, events] = await Promise.all([
          db.outboxEvent.count({ where: { consumedAt: null } }),
          db.sagaInstance.count({ where: { status: { in: ["running", "compensating"] } } }),
          db.outboxEvent.count(),
        ]);
        return unconsumed === 0 && moving === 0 && events >= taggedTotal + UPLOADS;
      },
      90_000,
      200,
    );

    // Sagas: all finished forward (a failover is not a reason to undo an upload).
    const sagas = await db.sagaInstance.groupBy({ by: ["status"], _count: { _all: true } });
    expect(Object.fromEntries(sagas.map((s) => [s.status, s._count._all]))).toEqual({ completed: UPLOADS });
    expect(await db.file.count({ where: { ownerId: alice.id, status: "active" } })).toBe(UPLOADS);

    // Outbox: every event consumed once in effect — one inbox row per event for the consumer, and
    // the handler saw each aggregate's events exactly once, in commit order.
    const events = await db.outboxEvent.findMany({ select: { id: true, eventType: true } });
    expect(events.filter((e) => e.eventType === "file.tagged")).toHaveLength(taggedTotal);
    expect(events.filter((e) => e.eventType === "file.uploaded")).toHaveLength(UPLOADS);
    expect(await db.inboxEntry.count({ where: { consumer: recorder.consumer.name } })).toBe(events.length);
    for (const id of aggregates) expect(recorder.seen.get(id)).toEqual(Array.from({ length: EVENTS_PER_AGGREGATE }, (_, i) => i + 1));
    expect(recorder.total()).toBe(events.length);
  });
});
