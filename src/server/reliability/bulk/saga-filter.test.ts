import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { openSqlTestDatabase, uuidv7At, type SqlTestDatabase } from "~test/support/sql-database";
import type { Db } from "../../platform/db/client";
import { ID_SLACK_MS, sagaBulkConditions } from "./saga-filter";

/**
 * The time range of a bulk saga filter is decided by created_at; the id bounds beside it only
 * narrow the primary-key range. A saga's id is taken in the app before its INSERT, so its time can
 * be earlier than created_at: such a saga, created just after `from`, must still be selected.
 */
let t: SqlTestDatabase;
let db: Db;
let client: pg.Client;
beforeAll(async () => {
  t = await openSqlTestDatabase();
  ({ db, client } = t);
});
afterAll(() => t?.close());

/** A failed saga whose id carries `idTime` and whose created_at is `createdAt`. */
async function insertSaga(n: number, idTime: Date, createdAt: Date) {
  const id = uuidv7At(idTime, n);
  await client.query(
    `INSERT INTO saga_instance (id, type, status, current_step, input, context, version, created_at, updated_at, last_error)
     VALUES ($1::uuid, 'file.upload', 'failed', 1, '{}', '{"generation": 0}', 1, $2, $2, 'boom')`,
    [id, createdAt],
  );
  return id;
}

async function selected(filter: { from?: Date; to?: Date }) {
  const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT id::text FROM saga_instance WHERE ${sagaBulkConditions("saga.redrive", filter)} ORDER BY id`;
  return rows.map((r) => r.id);
}

describe("bulk saga filter: time range", () => {
  it("selects a saga created after `from` whose id was taken before it, and not one created before `from`", async () => {
    const from = new Date(Date.now() - 3_600_000);
    // Id a minute before `from`, committed a second after it: in range (created_at decides).
    const late = await insertSaga(1, new Date(from.getTime() - 60_000), new Date(from.getTime() + 1_000));
    // Id and created_at both before `from`: out of range.
    await insertSaga(2, new Date(from.getTime() - 120_000), new Date(from.getTime() - 1_000));
    expect(await selected({ from })).toEqual([late]);
  });

  it("selects a saga created before `to` whose id was taken before it (the upper side, likewise)", async () => {
    const to = new Date(Date.now() - 1_800_000);
    const inside = await insertSaga(3, new Date(to.getTime() - 2_000), new Date(to.getTime() - 1_000));
    await insertSaga(4, new Date(to.getTime() - 1_000), new Date(to.getTime() + 1_000));
    expect(await selected({ from: new Date(to.getTime() - 10_000), to })).toEqual([inside]);
  });

  it("widens the id bounds by minutes, not by the whole history", () => {
    expect(ID_SLACK_MS).toBeGreaterThanOrEqual(60_000);
    expect(ID_SLACK_MS).toBeLessThanOrEqual(3_600_000);
  });
});
