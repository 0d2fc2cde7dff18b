/**
 * What `npm run test:pgbouncer` relies on, checked on the pooler itself: the app's queries really go
 * through PgBouncer in transaction mode (its own counters say so), a whole app transaction (Prisma
 * interactive transaction + outbox row) commits through it, and the one thing transaction pooling
 * breaks — session state such as LISTEN and named prepared statements — is why the relay and the
 * saga runner get the direct (DIRECT_DATABASE_URL) connection.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

/** Live client connections PgBouncer holds for a database, and that database's pool mode. */
async function poolerView(database: string): Promise<{ clients: number; mode: string | null }> {
  const admin = new pg.Client({ connectionString: inject("pgbouncerAdminUrl") });
  await admin.connect();
  try {
    // The admin console speaks the simple query protocol only (no parameters).
    const clients = (await admin.query("SHOW CLIENTS")).rows.filter((r) => r.database === database);
    const pool = (await admin.query("SHOW POOLS")).rows.find((r) => r.database === database);
    return { clients: clients.length, mode: pool?.pool_mode ?? null };
  } finally {
    await admin.end();
  }
}

describe("PgBouncer in transaction mode", () => {
  it("carries the app's queries and transactions: its pool for the test database holds the app's connections", async () => {
    const name = new URL(app.pooledDatabaseUrl).pathname.slice(1);
    expect(new URL(app.pooledDatabaseUrl).port).not.toBe(new URL(app.databaseUrl).port);
    const user = await app.createUser();
    await inTransaction(app.services.db, (tx) => appendEvent(tx, { type: "file.tagged", aggregateId: user.id, payload: { fileId: user.id, ownerId: user.id, tags: ["t"] } }));
    expect((await app.caller(user).files.list({})).items).toEqual([]);
    const view = await poolerView(name);
    expect(view.mode).toBe("transaction");
    expect(view.clients).toBeGreaterThan(0); // the app's pg pool is connected to PgBouncer, not to PostgreSQL
    expect(await app.services.db.outboxEvent.count({ where: { aggregateId: user.id } })).toBe(1);
  });

  it("loses LISTEN through the pooler (why the relay listens on DIRECT_DATABASE_URL), while the direct session gets the NOTIFY", async () => {
    const channel = "pooler_listen_check";
    const pooled = new pg.Client({ connectionString: app.pooledDatabaseUrl });
    const direct = new pg.Client({ connectionString: app.databaseUrl });
    const notifier = new pg.Client({ connectionString: app.databaseUrl });
    await Promise.all([pooled.connect(), direct.connect(), notifier.connect()]);
    try {
      const got = { pooled: 0, direct: 0 };
      pooled.on("notification", () => (got.pooled += 1));
      direct.on("notification", () => (got.direct += 1));
      await pooled.query(`LISTEN ${channel}`); // its own transaction: the server connection goes back to the pool after it
      await direct.query(`LISTEN ${channel}`);
      // Another client takes the pooled server connection in between, as any busy app does.
      const other = new pg.Client({ connectionString: app.pooledDatabaseUrl });
      await other.connect();
      await other.query("SELECT 1");
      await other.end();
      await notifier.query(`NOTIFY ${channel}, 'x'`);
      const deadline = Date.now() + 5000;
      while (got.direct === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await pooled.query("SELECT 1"); // give any notification PgBouncer would pass on a chance to arrive
      await new Promise((r) => setTimeout(r, 200));
      expect(got.direct).toBe(1);
      expect(got.pooled).toBe(0);
    } finally {
      await Promise.all([pooled.end(), direct.end(), notifier.end()].map((p) => p.catch(() => {})));
    }
  });
});
