import { sideStatements } from "~/server/platform/db/side-pool";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { DEFAULT_IDEMPOTENCY_OPTIONS } from "./options";
import { listIdempotencyRecords } from "./queries";
import { idempotencyScope } from "./scope";
import { claimIdempotencyKey } from "./store";

/**
 * One user's records: user_id is the scope's user part, set by a trigger on every write (the store's
 * claim, raw SQL, Prisma), and the list pages on (user_id, id) whatever the table's size.
 */
let app: TestApp;
const db = () => app.services.db;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

describe("idempotency records of one user", () => {
  it("every writer gets user_id from the scope, and the user filter finds exactly that user's records", async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    for (const [user, proc] of [[alice, "files.create"], [alice, "files.rename"], [bob, "files.create"]] as const) {
      const claim = await claimIdempotencyKey(sideStatements(db()), { scope: idempotencyScope(user, proc), key: randomUUID(), fingerprint: "f" }, DEFAULT_IDEMPOTENCY_OPTIONS);
      expect(claim.kind).toBe("claimed");
    }
    await db().idempotencyKey.create({ data: { scope: idempotencyScope(alice, "files.delete"), key: "k1", fingerprint: "f", expiresAt: new Date(Date.now() + 60_000) } });
    await db().$executeRaw`INSERT INTO idempotency_key (id, scope, key, fingerprint, expires_at) VALUES (gen_random_uuid(), 'legacy-scope', 'k2', 'f', now() + interval '1 minute')`;
    // A scope rewritten (by hand) moves the record to its new user.
    await db().idempotencyKey.updateMany({ where: { key: "k1" }, data: { scope: idempotencyScope(bob, "files.delete") } });

    const rows = await db().idempotencyKey.findMany({ select: { scope: true, userId: true } });
    for (const r of rows) expect(r.userId).toBe(r.scope.includes(":") ? r.scope.split(":")[0] : "");

    const ofAlice = await listIdempotencyRecords(db(), { userId: alice, limit: 10 });
    expect(ofAlice.items.map((r) => r.procedure).sort()).toEqual(["files.create", "files.rename"]);
    expect(ofAlice.items.every((r) => r.userId === alice)).toBe(true);
    const ofBob = await listIdempotencyRecords(db(), { userId: bob, limit: 1 });
    expect(ofBob.items).toHaveLength(1);
    const next = await listIdempotencyRecords(db(), { userId: bob, limit: 1, cursor: ofBob.nextCursor! });
    expect([...ofBob.items, ...next.items].map((r) => r.procedure).sort()).toEqual(["files.create", "files.delete"]);
    // User and procedure together: that one scope (user_id and scope both in the filter).
    const bobDeletes = await listIdempotencyRecords(db(), { userId: bob, procedure: "files.delete", limit: 10 });
    expect(bobDeletes.items.map((r) => [r.userId, r.procedure])).toEqual([[bob, "files.delete"]]);
    expect((await listIdempotencyRecords(db(), { userId: alice, procedure: "files.delete", limit: 10 })).items).toEqual([]);
  });

  it("pages a user's records on the (user_id, id) index among many users' records", async () => {
    await db().$executeRawUnsafe(`
      INSERT INTO idempotency_key (id, scope, key, fingerprint, state, completed_at, expires_at)
      SELECT gen_random_uuid(), '00000000-0000-4000-8000-' || lpad(to_hex(g % 2000), 12, '0') || ':files.create', 'bulk-' || g, 'f',
             'completed', now(), now() + interval '1 day'
      FROM generate_series(1, 50000) g`);
    await db().$executeRawUnsafe(`ANALYZE idempotency_key`);
    const rows = await db().$queryRawUnsafe<Array<{ "QUERY PLAN": string }>>(
      `EXPLAIN SELECT id FROM idempotency_key WHERE user_id = '00000000-0000-4000-8000-000000000007' ORDER BY id DESC LIMIT 26`,
    );
    const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(plan).toMatch(/idempotency_key_user_id_id_idx/);
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
