import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { runBulkOperation } from "~/server/reliability/bulk/operations";
import { recordConsumerFailure } from "~/server/reliability/outbox/consumption";
import { claimDueEvents, markPublishFailed, releaseClaims } from "~/server/reliability/outbox/relay-store";
import { deleteExpiredOutboxRows } from "~/server/reliability/outbox/retention";
import { createTestApp, type TestApp } from "~test/support/app";
import { createUsersOfEachRole } from "~test/support/roles";
import { seedOutboxEvents } from "~test/support/bulk";
import { listFailureGroups, type FailureGroup } from "./groups";
import { UNFINGERPRINTED } from "./fingerprint";

/**
 * The failure groups page reads failure_group_count, which triggers keep. Here every write path that
 * moves rows in or out of a group runs for real (seed inserts, consumer and publish failures, relay
 * claims and releases, operator retry/discard of a group, a bulk run by filter, retention deletes,
 * saga status changes, concurrent statements), and after each the page must equal what a GROUP BY
 * over the failing rows themselves says.
 */
let app: TestApp;
let operator: SessionUser;
const db = () => app.services.db;

beforeAll(async () => {
  app = await createTestApp();
  ({ operator } = await createUsersOfEachRole(app));
});
afterAll(() => app.close());

type Truth = { source: string; fingerprint: string; count: number; types: string[]; byStatus: Record<string, number>; members: string[] };

/** The groups as the failing rows themselves say (read them all and count: the slow way). */
async function groundTruth(): Promise<Truth[]> {
  const rows = await db().$queryRaw<Array<{ source: string; fingerprint: string | null; status: string; type: string; id: string }>>`
    SELECT 'outbox' AS source, failure_fingerprint AS fingerprint, status::text AS status, event_type AS type, id::text AS id
    FROM outbox_event WHERE status IN ('failed', 'dead')
    UNION ALL
    SELECT 'saga', failure_fingerprint, status::text, type, id::text FROM saga_instance WHERE status IN ('failed', 'compensated')`;
  const groups = new Map<string, Truth & { typeSet: Set<string> }>();
  for (const r of rows) {
    const fingerprint = r.fingerprint ?? UNFINGERPRINTED;
    const k = `${r.source}/${fingerprint}`;
    const g = groups.get(k) ?? { source: r.source, fingerprint, count: 0, types: [], typeSet: new Set<string>(), byStatus: {}, members: [] };
    g.count++;
    g.typeSet.add(r.type);
    g.byStatus[r.status] = (g.byStatus[r.status] ?? 0) + 1;
    g.members.push(r.id);
    groups.set(k, g);
  }
  return [...groups.values()].map(({ typeSet, ...g }) => ({ ...g, types: [...typeSet].sort() }));
}

const key = (g: { source: string; fingerprint: string }) => `${g.source}/${g.fingerprint}`;

/** The page (every group) equals the ground truth: counts, types, statuses; the sample is a member. */
async function expectExact(): Promise<FailureGroup[]> {
  const [page, truth] = await Promise.all([listFailureGroups(db(), { limit: 1_000 }), groundTruth()]);
  const want = new Map(truth.map((t) => [key(t), t]));
  expect(page.map(key).sort()).toEqual([...want.keys()].sort());
  for (const g of page) {
    const t = want.get(key(g))!;
    expect({ key: key(g), count: g.count, types: g.types, byStatus: g.byStatus }).toEqual({ key: key(g), count: t.count, types: t.types, byStatus: t.byStatus });
    expect(t.members).toContain(g.sample.id);
  }
  // Biggest first.
  expect(page.map((g) => g.count)).toEqual([...page.map((g) => g.count)].sort((a, b) => b - a));
  return page;
}

const fp = (n: number) => n.toString(16).padStart(32, "a");

describe("failure group counters", () => {
  it("stay exact across inserts, failures, relay claims and releases, group retry and discard, bulk runs and retention", async () => {
    // Inserts (one statement each, many rows): several groups, two types, both failing statuses, no fingerprint.
    await seedOutboxEvents(db(), { count: 40, status: "dead", fingerprint: fp(1), error: "consumer a: boom 1" });
    await seedOutboxEvents(db(), { count: 25, status: "failed", eventType: "file.renamed", fingerprint: fp(1), error: "consumer a: boom 2", offset: 1 });
    await seedOutboxEvents(db(), { count: 30, status: "failed", fingerprint: fp(2), error: "publish: broker down", offset: 2 });
    await seedOutboxEvents(db(), { count: 7, status: "dead", fingerprint: null, error: "legacy", offset: 3 });
    await seedOutboxEvents(db(), { count: 20, status: "published", offset: 4 });
    await seedOutboxEvents(db(), { count: 10, status: "pending", offset: 5 });
    await expectExact();

    // A consumer failure: a published event goes dead into a new group; a dead one changes group.
    const inFlight = await db().outboxEvent.findMany({ where: { status: "published" }, take: 3, select: { id: true } });
    await db().outboxEvent.updateMany({ where: { id: { in: inFlight.map((e) => e.id) } }, data: { consumedAt: null } });
    for (const e of inFlight) await recordConsumerFailure(db(), e.id, "search-index", new Error("connect ECONNREFUSED 10.0.0.9:9200"), true);
    const legacy = await db().outboxEvent.findFirstOrThrow({ where: { failureFingerprint: null, status: "dead" } });
    await recordConsumerFailure(db(), legacy.id, "search-index", new Error("connect ECONNREFUSED 10.0.0.9:9200"), true);
    await expectExact();

    // The relay claims due failed events (they leave their groups), fails some of them again
    // (they come back, under the publish error's group) and gives the rest back (failed again).
    await db().outboxEvent.updateMany({ where: { status: "failed" }, data: { nextAttemptAt: new Date(Date.now() - 1_000) } });
    const claimed = await claimDueEvents(db(), { relayId: "relay-test", batchSize: 40, leaseMs: 30_000 });
    expect(claimed.length).toBe(40);
    await expectExact();
    await markPublishFailed(db(), "relay-test", claimed.slice(0, 25), new Error("Redis connection lost (ETIMEDOUT)"));
    await releaseClaims(db(), "relay-test", claimed.slice(25).map((e) => e.id));
    await expectExact();

    // Operator actions on whole groups, through the router (batches of 500, audited).
    await app.caller(operator).admin.failures.retryGroup({ source: "outbox", fingerprint: fp(2), reason: "broker is back" });
    await expectExact();
    await app.caller(operator).admin.failures.discardGroup({ source: "outbox", fingerprint: UNFINGERPRINTED });
    await expectExact();

    // A bulk run by filter, in batches of 7 (each batch its own statement and transaction).
    const dry = await app.caller(operator).admin.bulk.dryRun({ action: "outbox.retry", filter: { type: "file.tagged" } });
    const { id } = await app.caller(operator).admin.bulk.start({ action: "outbox.retry", filter: { type: "file.tagged" }, dryRunCount: dry.count, batchSize: 7 });
    await runBulkOperation(db(), id);
    expect(await db().outboxEvent.count({ where: { eventType: "file.tagged", status: { in: ["failed", "dead"] } } })).toBe(0);
    await expectExact();

    // Retention deletes published rows (none counted); a DELETE of failing rows (by hand) takes them out.
    await db().outboxEvent.updateMany({ where: { status: "published" }, data: { publishedAt: new Date(Date.now() - 400 * 86_400_000), consumedAt: new Date() } });
    const published = await db().outboxEvent.count({ where: { status: "published" } });
    expect(published).toBeGreaterThan(0);
    expect((await deleteExpiredOutboxRows(db(), { olderThan: new Date(Date.now() - 86_400_000), batchSize: 5 })).events).toBe(published);
    await expectExact();
    const someFailing = await db().outboxEvent.findMany({ where: { status: { in: ["failed", "dead"] } }, take: 5, select: { id: true } });
    expect(someFailing.length).toBe(5);
    await db().outboxEvent.deleteMany({ where: { id: { in: someFailing.map((e) => e.id) } } });
    await expectExact();
  });

  it("stay exact for sagas that fail, compensate, are redriven and deleted", async () => {
    const make = (status: "failed" | "compensated" | "running", n: number) =>
      db().sagaInstance.create({
        data: { type: n % 2 ? "file.import" : "file.share", status, input: {}, lastError: `disk ${n} full`, failureFingerprint: fp(100 + (n % 3)) },
      });
    const sagas = [];
    for (let n = 0; n < 12; n++) sagas.push(await make(n % 3 === 0 ? "running" : n % 3 === 1 ? "failed" : "compensated", n));
    await expectExact();
    await db().sagaInstance.updateMany({ where: { status: "running" }, data: { status: "failed" } });
    await expectExact();
    await db().sagaInstance.update({ where: { id: sagas[1]!.id }, data: { failureFingerprint: fp(200) } });
    await db().sagaInstance.updateMany({ where: { status: "compensated", type: "file.share" }, data: { status: "running" } });
    await expectExact();
    await db().sagaInstance.delete({ where: { id: sagas[4]!.id } });
    await expectExact();
  });

  it("stay exact when concurrent statements move rows of many groups at once", async () => {
    await seedOutboxEvents(db(), { count: 120, status: "pending", offset: 20 });
    const ids = (await db().outboxEvent.findMany({ where: { status: "pending" }, select: { id: true }, orderBy: { id: "asc" } })).map((e) => e.id);
    // Eight statements at once, each failing events of six groups (the relay's markPublishFailed
    // shape: one statement, many groups): each statement applies its counts in key order, so
    // they queue on the counter rows and never deadlock.
    const round = (status: "dead" | "pending") =>
      Promise.all(
        Array.from({ length: 8 }, (_, i) => {
          const mine = ids.filter((_, j) => j % 8 === i);
          const fps = mine.map((id) => fp(300 + (ids.indexOf(id) % 6)));
          return db().$executeRaw`
            UPDATE outbox_event o SET status = ${status}::"OutboxStatus", failure_fingerprint = x.fp, last_failed_at = now()
            FROM unnest(${i % 2 ? [...mine].reverse() : mine}::uuid[], ${i % 2 ? [...fps].reverse() : fps}::text[]) AS x(id, fp) WHERE o.id = x.id`;
        }),
      );
    for (let r = 0; r < 3; r++) {
      await round("dead");
      await expectExact();
      await round("pending");
      await expectExact();
    }
  });

  it("reads only the counter table for the groups (a page's cost follows the groups, not the failures)", async () => {
    const before = await db().failureGroupCount.count();
    expect(before).toBeGreaterThan(0);
    const page = await expectExact();
    // One counter row per (group, type, status): never more rows than that, however many failures.
    const failures = page.reduce((n, g) => n + g.count, 0);
    expect(before).toBeLessThanOrEqual(page.reduce((n, g) => n + g.types.length * Object.keys(g.byStatus).length, 0));
    expect(failures).toBeGreaterThan(before);
  });
});
