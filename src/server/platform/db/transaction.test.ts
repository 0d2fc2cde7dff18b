import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { createDb } from "./client";
import { afterCommit, AfterCommitHooks, inTransaction, withAmbientTransaction } from "./transaction";

let app: TestApp;
const probeCount = async () => (await app.services.db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM tx_probe`)[0]!.n;

beforeAll(async () => {
  app = await createTestApp();
  await app.services.db.$executeRawUnsafe("CREATE TABLE tx_probe (id serial PRIMARY KEY)");
});
afterAll(() => app.close());

describe("afterCommit", () => {
  it("runs a hook once the transaction has committed, when its rows are visible to other connections", async () => {
    const before = await probeCount();
    let seenByHook = -1;
    await inTransaction(app.services.db, async (tx) => {
      await tx.$executeRaw`INSERT INTO tx_probe DEFAULT VALUES`;
      await afterCommit(async () => {
        seenByHook = await probeCount(); // another pooled connection, not the transaction's
      });
      expect(seenByHook).toBe(-1);
    });
    expect(seenByHook).toBe(before + 1);
  });

  it("never runs the hooks of a transaction that rolled back", async () => {
    let ran = false;
    await expect(
      inTransaction(app.services.db, async (tx) => {
        await tx.$executeRaw`INSERT INTO tx_probe DEFAULT VALUES`;
        await afterCommit(() => void (ran = true));
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(ran).toBe(false);
  });

  it("waits for the outermost transaction when domain code joins an ambient one", async () => {
    const order: string[] = [];
    const hooks = new AfterCommitHooks();
    await app.services.db.$transaction((tx) =>
      withAmbientTransaction(
        tx,
        () =>
          inTransaction(app.services.db, async () => {
            await afterCommit(() => void order.push("hook"));
            order.push("inner done");
          }),
        hooks,
      ).then(() => void order.push("outer body done")),
    );
    expect(order).toEqual(["inner done", "outer body done"]);
    await hooks.run();
    expect(order).toEqual(["inner done", "outer body done", "hook"]);
  });

  it("runs at once outside any transaction", async () => {
    let ran = false;
    await afterCommit(() => void (ran = true));
    expect(ran).toBe(true);
  });
});

describe("the ambient-transaction db handle", () => {
  // A pool of ONE connection: any query that asked the pool for a second connection while the
  // transaction holds the only one would wait for it forever (here: the pool's connection timeout).
  const single = () => createDb(app.databaseUrl, { max: 1, connectionTimeoutMs: 2_000 });

  it("sends plain db calls made inside a transaction to that transaction's connection", async () => {
    const db = single();
    try {
      const before = await probeCount();
      const seen = await inTransaction(db, async (tx) => {
        await tx.$executeRaw`INSERT INTO tx_probe DEFAULT VALUES`;
        // Not `tx`: the uncommitted row is visible only on the transaction's own connection.
        const [{ n }] = (await db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM tx_probe`) as [{ n: number }];
        const viaModel = await db.user.count();
        return { n, viaModel };
      });
      expect(seen.n).toBe(before + 1);
      expect(seen.viaModel).toBeGreaterThanOrEqual(0);
    } finally {
      await db.$disconnect();
    }
  });

  it("joins the ambient transaction from db.$transaction (callback and batch forms), rolling back with it", async () => {
    const db = single();
    try {
      const before = await probeCount();
      await expect(
        inTransaction(db, async () => {
          await db.$transaction(async (inner) => inner.$executeRaw`INSERT INTO tx_probe DEFAULT VALUES`);
          await db.$transaction([db.$executeRaw`INSERT INTO tx_probe DEFAULT VALUES`]);
          const [{ n }] = (await db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM tx_probe`) as [{ n: number }];
          expect(n).toBe(before + 2);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await probeCount()).toBe(before);
    } finally {
      await db.$disconnect();
    }
  });

  it("uses the pool again for work that outlives the transaction's callback", async () => {
    let escaped: Promise<number> | undefined;
    await inTransaction(app.services.db, async () => {
      // Started inside, run after the transaction has ended: it must not reach for the ended transaction.
      escaped = new Promise((resolve, reject) => setTimeout(() => probeCount().then(resolve, reject), 50));
    });
    await expect(escaped).resolves.toBeGreaterThanOrEqual(0);
  });
});

describe("a transaction queued behind a busy pool", () => {
  it("waits for a connection as long as a query does (not Prisma's 2 s), so a burst on a loaded machine commits", async () => {
    // The fault: the pool's only connection busy for 3 s, longer than Prisma's default maxWait
    // (2 s), shorter than the pool's connection timeout (10 s) that a plain query waits.
    const db = createDb(app.databaseUrl, { max: 1 });
    try {
      await db.$queryRaw`SELECT 1`; // the one connection, opened
      let holding!: () => void;
      const isHolding = new Promise<void>((resolve) => (holding = resolve));
      const holder = inTransaction(db, async (tx) => {
        await tx.$queryRaw`SELECT 1`;
        holding();
        await new Promise((r) => setTimeout(r, 3_000));
      });
      await isHolding;
      const began = Date.now();
      await inTransaction(db, (tx) => tx.$executeRaw`INSERT INTO tx_probe DEFAULT VALUES`);
      expect(Date.now() - began).toBeGreaterThanOrEqual(2_500); // it did wait for the holder
      await holder;
    } finally {
      await db.$disconnect();
    }
  });
});
