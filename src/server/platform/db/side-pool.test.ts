import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "~test/support/database";
import { DEFAULT_IDEMPOTENCY_OPTIONS } from "../../reliability/idempotency/options";
import { claimIdempotencyKey } from "../../reliability/idempotency/store";
import { createDb, type Db } from "./client";
import { sideStatements, sideTransaction } from "./side-pool";

/**
 * The side pool prepares its statements only on a session connection (createDb's sessionCapable),
 * never by default: behind a transaction pooler a prepared name may be unknown to the next server
 * connection. Prepared or not, the claim answers the same.
 */
let database: TestDatabase;
let prepared: Db;
let unprepared: Db;
beforeAll(async () => {
  database = await createTestDatabase();
  prepared = createDb(database.url, { max: 1, sessionCapable: true });
  unprepared = createDb(database.url, { max: 1 });
}, 60_000);
afterAll(async () => {
  await prepared?.$disconnect();
  await unprepared?.$disconnect();
  await database?.drop();
});

const options = DEFAULT_IDEMPOTENCY_OPTIONS;

/** Executions of the prepared claim on the side pool connection this question reaches (one at a time: the same one). */
async function preparedClaimRuns(db: Db): Promise<number> {
  const rows = await sideStatements(db).rows<{ n: number }>(
    `SELECT coalesce(sum(generic_plans + custom_plans), 0)::int AS n FROM pg_prepared_statements
     WHERE statement LIKE '%INSERT INTO idempotency_key%' AND statement NOT LIKE '%pg_prepared_statements%'`,
    [],
  );
  return rows[0]!.n;
}

describe("side pool statements", () => {
  it.each([
    ["prepared (session connection)", () => prepared, 4],
    ["unprepared (default: safe behind a pooler)", () => unprepared, 0],
  ] as const)("%s: the claim answers the same, and is prepared only when asked", async (_label, db, expectedRuns) => {
    const sql = sideStatements(db());
    const request = { scope: `u-${expectedRuns}:files.rename`, key: "k-1", fingerprint: "f" };
    // Four claims: prepared, they are one statement parsed once and executed four times on its connection.
    expect(await claimIdempotencyKey(sql, request, options)).toMatchObject({ kind: "claimed" });
    expect(await claimIdempotencyKey(sql, request, options)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    expect(await claimIdempotencyKey(sql, { ...request, fingerprint: "other" }, options)).toEqual({ kind: "mismatch" });
    expect(await claimIdempotencyKey(sql, { ...request, key: "k-2" }, options)).toMatchObject({ kind: "claimed" });
    expect(await preparedClaimRuns(db())).toBe(expectedRuns);
  });
});

describe("side transactions", () => {
  it.each([
    ["prepared (session connection)", () => prepared],
    ["unprepared (default: safe behind a pooler)", () => unprepared],
  ] as const)("%s: commit together, or roll back together when the callback throws", async (_label, db) => {
    const tx = sideTransaction(db())!;
    const scope = `side-tx-${_label.slice(0, 4)}`;
    const insert = `INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq) VALUES ($1, $2, 1)`;
    const count = async () => Number((await sideStatements(db()).rows<{ n: string }>(`SELECT count(*) AS n FROM outbox_aggregate WHERE aggregate_type = $1`, [scope]))[0]!.n);
    await tx(async (sql) => {
      await sql.count(insert, [scope, "a"]);
      await sql.count(insert, [scope, "b"]);
      // Not visible outside before the commit.
      expect(await count()).toBe(0);
    });
    expect(await count()).toBe(2);
    await expect(
      tx(async (sql) => {
        await sql.count(insert, [scope, "c"]);
        throw new Error("effect failed");
      }),
    ).rejects.toThrow("effect failed");
    // A statement error rolls back too, and the connection is usable afterwards.
    await expect(tx(async (sql) => void (await sql.count(insert, [scope, "a"])))).rejects.toThrow(/duplicate key/);
    expect(await count()).toBe(2);
    expect(await tx(async (sql) => (await sql.rows<{ one: number }>("SELECT 1 AS one", []))[0]!.one)).toBe(1);
    // A callback that hangs: the transaction times out and rolls back (its connection is closed).
    let late: Promise<unknown> | undefined;
    await expect(
      tx(async (sql) => {
        await sql.count(insert, [scope, "d"]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        late = sql.count(insert, [scope, "e"]);
        await late;
      }, 100),
    ).rejects.toThrow(/timed out/);
    await new Promise((resolve) => setTimeout(resolve, 350));
    await expect(late).rejects.toThrow(/already ended/);
    expect(await count()).toBe(2);
  });
});
