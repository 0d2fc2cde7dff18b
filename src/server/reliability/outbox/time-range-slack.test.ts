import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqlTestDatabase, uuidv7At, type SqlTestDatabase } from "~test/support/sql-database";
import type { Db } from "../../platform/db/client";
import { bulkConditions } from "../bulk/filter";
import { listEvents } from "./queries";

/**
 * An event's time range is decided by created_at (the database's clock); the id bounds beside it
 * (UUIDv7, the app's clock) only narrow the primary-key range. With the app's clock behind the
 * database's, an event created just after `from` has an id older than `from`: the outbox list and
 * the bulk filter must still select it.
 */
let t: SqlTestDatabase;
let db: Db;
let client: pg.Client;
beforeAll(async () => {
  t = await openSqlTestDatabase();
  ({ db, client } = t);
});
afterAll(() => t?.close());

async function insertEvent(n: number, idTime: Date, createdAt: Date) {
  const id = uuidv7At(idTime, n);
  await client.query(
    `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, last_error, last_failed_at, created_at)
     VALUES ($1::uuid, 'file', $2, 1, 'file.tagged', '{}'::jsonb, 'failed', 'boom', $3, $3)`,
    [id, `f${n}`, createdAt],
  );
  return id;
}

describe("outbox time range: the id bound of `from` has slack", () => {
  it("the list and the bulk filter select an event created after `from` whose id is older, and not one created before", async () => {
    const from = new Date(Date.now() - 3_600_000);
    const late = await insertEvent(1, new Date(from.getTime() - 60_000), new Date(from.getTime() + 1_000));
    await insertEvent(2, new Date(from.getTime() - 120_000), new Date(from.getTime() - 1_000));

    const listed = await listEvents(db, { from }, { limit: 10 });
    expect(listed.items.map((e) => e.id)).toEqual([late]);

    const where = bulkConditions("outbox.retry", { from });
    const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT id::text FROM outbox_event WHERE ${where}`;
    expect(rows.map((r) => r.id)).toEqual([late]);
  });
});
