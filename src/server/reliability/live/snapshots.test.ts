/**
 * A live snapshot is read in one REPEATABLE READ READ ONLY transaction, so its tiles agree: the fault
 * injected is a writer that commits between two of the snapshot's queries (through a connection of
 * its own, at the moment the snapshot sends its second query). Real PostgreSQL.
 */
import pg from "pg";
import { randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "~/server/platform/db/client";
import { inTransaction } from "~/server/platform/db/transaction";
import { createTestApp, type TestApp } from "~test/support/app";
import { errorFingerprint } from "../failures/fingerprint";
import { listFailureGroups } from "../failures/groups";
import { appendEvent } from "../outbox/append-event";
import { changeKeys, LIVE_FAILURE_GROUPS_LIMIT, readSnapshot, type SnapshotSources } from "./snapshots";

let app: TestApp;
let writer: pg.Client;

beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
  writer = new pg.Client({ connectionString: app.databaseUrl });
  await writer.connect();
});
afterAll(async () => {
  await writer?.end();
  await app?.close();
});

const append = () =>
  inTransaction(app.services.db, (tx) => appendEvent(tx, { type: "file.tagged", aggregateId: randomUUID(), payload: { fileId: randomUUID(), ownerId: randomUUID(), tags: ["x"] } }));

/** Another writer's event, committed at once on its own connection (outside the snapshot's transaction). */
async function commitElsewhere(): Promise<string> {
  const id = uuidv7();
  await writer.query(
    `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload) VALUES ($1, 'file', $2, 1, 'file.tagged', '{}')`,
    [id, randomUUID()],
  );
  return id;
}

/**
 * `count` dead events failed with `error` (each of an aggregate of its own), committed at once on
 * the writer's connection: the statement triggers count them into their failure group.
 */
async function commitDeadEvents(error: string, count = 1) {
  await writer.query(
    `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, attempts, last_error, last_failed_at, failure_fingerprint)
     SELECT gen_random_uuid(), 'file', gen_random_uuid()::text, 1, 'file.tagged', '{}', 'dead', 5, $1, now(), $2 FROM generate_series(1, $3::int)`,
    [error, errorFingerprint({ message: error }), count],
  );
}

/** The app's database, but its `nth` raw query first lets another writer commit (the injected race). */
function racingDb(db: Db, nth: number, race: () => Promise<unknown>): Db {
  let calls = 0;
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== "$queryRaw") return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<Db["$queryRaw"]>) => {
        calls += 1;
        if (calls === nth) await race();
        return target.$queryRaw(...args);
      };
    },
  });
}

describe("a live snapshot", () => {
  it("is one consistent reading: an event committed between two of its queries is in none of its tiles", async () => {
    await append();
    await append();
    let raced: string | undefined;
    const sources: SnapshotSources = {
      db: racingDb(app.services.db, 2, async () => (raced = await commitElsewhere())),
      sagaMetrics: () => app.services.sagas.metrics({}),
    };
    const snapshot = await readSnapshot("outbox", sources);
    expect(raced).toBeDefined(); // the writer did commit in the middle of the snapshot
    // The counts were read before the race: the newest id must be one of the counted events, not the raced one.
    expect(snapshot.stats.counts.pending).toBe(2);
    expect(snapshot.marks.newest).not.toBe(raced);
    const counted = await app.services.db.outboxEvent.findMany({ where: { id: { not: raced } }, select: { id: true } });
    expect(counted.map((e) => e.id)).toContain(snapshot.marks.newest);

    // The next snapshot sees it everywhere.
    const next = await readSnapshot("outbox", { ...sources, db: app.services.db });
    expect(next.stats.counts.pending).toBe(3);
    expect(next.marks.newest).toBe(raced);
  });

  it("runs read only, at REPEATABLE READ", async () => {
    const seen: Array<{ iso: string; ro: string }> = [];
    const db = racingDb(app.services.db, 1, async () => {
      // Asked inside the snapshot (the ambient transaction), before its first query.
      seen.push(...(await app.services.db.$queryRaw<Array<{ iso: string; ro: string }>>`SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro`));
    });
    await readSnapshot("idempotency", { db, sagaMetrics: () => app.services.sagas.metrics({}) });
    expect(seen).toEqual([{ iso: "repeatable read", ro: "on" }]);
  });

  it("of the failure groups is the overview's top groups, and one consistent reading with the digest of every group", async () => {
    const sources: SnapshotSources = { db: app.services.db, sagaMetrics: () => app.services.sagas.metrics({}) };
    // Seven groups of different sizes: the overview shows the five biggest.
    for (let i = 1; i <= LIVE_FAILURE_GROUPS_LIMIT + 2; i++) await commitDeadEvents(`consumer file-indexer: group ${"abcdefg"[i - 1]} refused`, i + 1);
    const before = await readSnapshot("failures", sources);
    expect(before.groups).toEqual(await listFailureGroups(app.services.db, { limit: LIVE_FAILURE_GROUPS_LIMIT }));
    expect(before.groups.map((g) => g.count)).toEqual([8, 7, 6, 5, 4]);
    expect(before.marks.rows).toBe(LIVE_FAILURE_GROUPS_LIMIT + 2);

    // The fault: another writer's failure commits between the snapshot's group read and its digest.
    const raced = await readSnapshot("failures", { ...sources, db: racingDb(app.services.db, 1, () => commitDeadEvents("consumer file-indexer: group h refused", 20)) });
    expect(raced).toEqual(before); // neither the top groups nor the digest saw it
    const after = await readSnapshot("failures", sources);
    expect(after.groups[0]).toMatchObject({ count: 20, message: expect.stringContaining("group h") });
    expect(after.marks).not.toEqual(before.marks);
  });

  it("of the failure groups changes when a group below the top ones changes", async () => {
    const sources: SnapshotSources = { db: app.services.db, sagaMetrics: () => app.services.sagas.metrics({}) };
    const before = await readSnapshot("failures", sources);
    expect(before.marks.rows).toBeGreaterThan(LIVE_FAILURE_GROUPS_LIMIT); // the previous test's groups are there
    // One more failure in the smallest group: the top five stay as they were, the change key does not.
    await commitDeadEvents("consumer file-indexer: group a refused");
    const after = await readSnapshot("failures", sources);
    expect(after.groups).toEqual(before.groups);
    expect(changeKeys.failures(after)).not.toEqual(changeKeys.failures(before));
  });
});
