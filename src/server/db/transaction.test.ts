import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/support/app";
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
