import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SuperJSONResult } from "superjson";
import type { SessionUser } from "~/server/auth/session";
import { transformer } from "~/server/platform/transformer";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { expectTRPCError } from "~test/support/trpc-error";

let app: TestApp;
let alice: SessionUser;
let bob: SessionUser;
let viewer: SessionUser;
let operator: SessionUser;

beforeAll(async () => {
  app = await createTestApp();
  [alice, bob, viewer, operator] = await Promise.all([
    app.createUser(),
    app.createUser(),
    app.createUser({ role: "viewer" }),
    app.createUser({ role: "operator" }),
  ]);
});
afterAll(() => app.close());

function form(content: string, name: string, tags: string[] = []) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  for (const tag of tags) fd.append("tags", tag);
  return fd;
}

/** Change a row behind the app's back (no mutation, so no invalidation): shows whether a read was cached. */
async function renameBehindTheCache(id: string, name: string) {
  await app.services.db.$executeRaw`UPDATE file SET name = ${name} WHERE id = ${id}::uuid`;
}

const filesStats = async () => (await app.caller(operator).admin.cache.stats()).prefixes.find((p) => p.prefix === "files");

describe("files.list / files.get are cached", () => {
  it("serves the second read from the cache (a change that bypassed the mutations is not seen)", async () => {
    const file = await app.caller(alice).files.upload(form("one", "cached.txt"));
    expect((await app.caller(alice).files.get({ id: file.id })).name).toBe("cached.txt");
    await renameBehindTheCache(file.id, "sneaky.txt");
    expect((await app.caller(alice).files.get({ id: file.id })).name).toBe("cached.txt");
    // ...until something invalidates it.
    await app.caller(operator).admin.cache.flushTag({ tag: `file:${file.id}` });
    expect((await app.caller(alice).files.get({ id: file.id })).name).toBe("sneaky.txt");
  });

  it("round-trips Dates through Redis and the HTTP handler", async () => {
    const first = await app.caller(alice).files.list({});
    const second = await app.caller(alice).files.list({});
    expect(second).toEqual(first);
    expect(second.items[0]!.createdAt).toBeInstanceOf(Date);
    const res = await app.http(`/api/trpc/files.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, { user: alice });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { json: { items: unknown[] }; meta?: unknown } } };
    expect(body.result.data.json.items).toHaveLength(first.items.length);
    expect(body.result.data.meta).toBeDefined(); // superjson metadata for the Dates
  });

  it("over HTTP a hit is sent still serialized: the same bytes as a miss, decoding to the same value", async () => {
    await app.caller(alice).files.upload(form("two", "wire.txt", ["wire"]));
    const url = `/api/trpc/files.list?input=${encodeURIComponent(JSON.stringify({ json: { tag: "wire" } }))}`;
    const missesBefore = (await filesStats())?.misses ?? 0;
    const miss = await (await app.http(url, { user: alice })).text();
    const hitsBefore = (await filesStats())?.hits ?? 0;
    const hit = await (await app.http(url, { user: alice })).text();
    const again = await (await app.http(url, { user: alice })).text(); // the reused parse of a hot entry
    expect((await filesStats())?.misses).toBe(missesBefore + 1);
    expect((await filesStats())?.hits).toBe(hitsBefore + 2);
    expect(hit).toBe(miss);
    expect(again).toBe(miss);
    const decoded = transformer.deserialize<{ items: Array<{ name: string; createdAt: Date }> }>((JSON.parse(hit) as { result: { data: SuperJSONResult } }).result.data);
    expect(decoded.items.map((f) => f.name)).toEqual(["wire.txt"]);
    expect(decoded.items[0]!.createdAt).toBeInstanceOf(Date);
    // In-process callers of the same entry get decoded values of their own, not the shared wire form.
    const inProcess = await app.caller(alice).files.list({ tag: "wire" });
    expect(inProcess.items[0]!.createdAt).toBeInstanceOf(Date);
  });
});

describe("read-after-write", () => {
  it("upload, rename, setTags and delete are visible to the next list and get", async () => {
    const caller = app.caller(alice);
    const names = async () => (await caller.files.list({ limit: 100 })).items.map((f) => f.name);
    await names(); // cache the list
    const file = await caller.files.upload(form("hello", "draft.txt"));
    expect(await names()).toContain("draft.txt");
    await caller.files.get({ id: file.id }); // cache the get

    await caller.files.rename({ id: file.id, name: "final.txt" });
    expect((await caller.files.get({ id: file.id })).name).toBe("final.txt");
    expect(await names()).toContain("final.txt");
    expect(await names()).not.toContain("draft.txt");

    await caller.files.setTags({ id: file.id, tags: ["done"] });
    expect((await caller.files.get({ id: file.id })).tags).toEqual(["done"]);
    expect((await caller.files.list({ tag: "done" })).items.map((f) => f.id)).toEqual([file.id]);

    await caller.files.delete({ id: file.id });
    await expectTRPCError(caller.files.get({ id: file.id }), "NOT_FOUND", /has been deleted/);
    expect(await names()).not.toContain("final.txt");
  });

  it("holds over HTTP too (the handler Next.js serves)", async () => {
    const file = await app.caller(alice).files.upload(form("x", "http-before.txt"));
    const getUrl = `/api/trpc/files.get?input=${encodeURIComponent(JSON.stringify({ json: { id: file.id } }))}`;
    const nameOf = async () => ((await (await app.http(getUrl, { user: alice })).json()) as { result: { data: { json: { name: string } } } }).result.data.json.name;
    expect(await nameOf()).toBe("http-before.txt");
    const res = await app.http("/api/trpc/files.rename", {
      user: alice,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { id: file.id, name: "http-after.txt" } }),
    });
    expect(res.status).toBe(200);
    expect(await nameOf()).toBe("http-after.txt");
  });

  it("a failed mutation invalidates nothing and a failed read is not cached", async () => {
    const file = await app.caller(alice).files.upload(form("x", "keep.txt"));
    await app.caller(alice).files.get({ id: file.id });
    await expectTRPCError(app.caller(alice).files.rename({ id: file.id, name: "" }), "BAD_REQUEST", /cannot be empty/);
    await renameBehindTheCache(file.id, "still-cached-proof.txt");
    expect((await app.caller(alice).files.get({ id: file.id })).name).toBe("keep.txt"); // the failed rename did not invalidate
    const missing = "01900000-0000-7000-8000-000000000000";
    await expectTRPCError(app.caller(alice).files.get({ id: missing }), "NOT_FOUND");
    await expectTRPCError(app.caller(alice).files.get({ id: missing }), "NOT_FOUND");
    await expectTRPCError(app.caller(alice).files.get({ id: "not-a-uuid" }), "BAD_REQUEST", /must be a file id/);
  });
});

describe("isolation between callers", () => {
  it("never serves one user's cached list or file to another", async () => {
    await app.caller(alice).files.upload(form("a", "alice-only.txt"));
    const bobFile = await app.caller(bob).files.upload(form("b", "bob-only.txt"));
    const aliceList = await app.caller(alice).files.list({ limit: 100 }); // same input for both users
    const bobList = await app.caller(bob).files.list({ limit: 100 });
    expect(aliceList.items.map((f) => f.name)).toContain("alice-only.txt");
    expect(aliceList.items.map((f) => f.name)).not.toContain("bob-only.txt");
    expect(bobList.items.map((f) => f.name)).toEqual(["bob-only.txt"]);
    // Bob's file, cached for Bob, is still "not found" for Alice.
    expect((await app.caller(bob).files.get({ id: bobFile.id })).name).toBe("bob-only.txt");
    await expectTRPCError(app.caller(alice).files.get({ id: bobFile.id }), "NOT_FOUND");
    // Signed out: no cached answer, the usual refusal.
    await expectTRPCError(app.caller(null).files.list({ limit: 100 }), "UNAUTHORIZED");
  });
});

describe("admin.cache", () => {
  it("stats: hits, misses, hit rate, keys and time saved for the files prefix (viewers may read)", async () => {
    await app.caller(alice).files.list({ name: "stats-probe" });
    await app.caller(alice).files.list({ name: "stats-probe" });
    const report = await app.caller(viewer).admin.cache.stats();
    const files = report.prefixes.find((p) => p.prefix === "files")!;
    expect(files.hits).toBeGreaterThanOrEqual(1);
    expect(files.misses).toBeGreaterThanOrEqual(1);
    expect(files.hitRate).toBeGreaterThan(0);
    expect(files.hitRate).toBeLessThan(1);
    expect(files.keys).toBeGreaterThanOrEqual(1);
    expect(report.redis.status).toBe("ready");
  });

  it("flushPrefix: operators only; afterwards every files entry is gone", async () => {
    await app.caller(alice).files.list({ name: "flush-probe" });
    await expectTRPCError(app.caller(viewer).admin.cache.flushPrefix({ prefix: "files" }), "FORBIDDEN", /Only operators/);
    await expectTRPCError(app.caller(alice).admin.cache.flushPrefix({ prefix: "files" }), "FORBIDDEN");
    const { deleted } = await app.caller(operator).admin.cache.flushPrefix({ prefix: "files" });
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect((await filesStats())?.keys ?? 0).toBe(0);
  });

  it.each([
    ["a glob in the prefix", { prefix: "files*" }, /prefix is 1-64 letters/],
    ["an empty prefix", { prefix: "" }, /prefix is 1-64 letters/],
  ])("flushPrefix rejects %s", async (_label, input, message) => {
    await expectTRPCError(app.caller(operator).admin.cache.flushPrefix(input), "BAD_REQUEST", message);
  });

  it.each([
    ["an empty tag", { tag: "  " }, /tag cannot be empty/],
    ["an overlong tag", { tag: "x".repeat(201) }, /at most 200 characters/],
  ])("flushTag rejects %s", async (_label, input, message) => {
    await expectTRPCError(app.caller(operator).admin.cache.flushTag(input), "BAD_REQUEST", message);
  });

  it("says plainly when the cache is turned off", async () => {
    const off = await createTestApp({ cacheRedisUrl: null });
    try {
      const op = await off.createUser({ role: "operator" });
      await expectTRPCError(off.caller(op).admin.cache.stats(), "PRECONDITION_FAILED", /CACHE_ENABLED=false/);
      const user = await off.createUser();
      await off.caller(user).files.upload(form("x", "uncached.txt"));
      expect((await off.caller(user).files.list({})).items.map((f) => f.name)).toEqual(["uncached.txt"]);
    } finally {
      await off.close();
    }
  });
});

// Stops a private single redis-server: the same in the cluster suite (which covers a failover instead).
describe.skipIf(process.env.REDIS_CLUSTER_NODES)("Redis stopped", () => {
  let redis: PrivateRedis;
  let down: TestApp;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    down = await createTestApp({ cacheRedisUrl: redis.url, cacheCommandTimeoutMs: 20 });
  });
  afterAll(async () => {
    await down.close();
    await redis.close();
  });

  it("queries and mutations still answer correctly and promptly; the cache resumes when Redis is back", async () => {
    const user = await down.createUser();
    const caller = down.caller(user);
    const file = await caller.files.upload(form("x", "before.txt"));
    expect((await caller.files.get({ id: file.id })).name).toBe("before.txt"); // cached

    await redis.stop();
    const started = performance.now();
    await caller.files.rename({ id: file.id, name: "during.txt" });
    expect((await caller.files.get({ id: file.id })).name).toBe("during.txt");
    expect((await caller.files.list({})).items.map((f) => f.name)).toEqual(["during.txt"]);
    const res = await down.http(`/api/trpc/files.get?input=${encodeURIComponent(JSON.stringify({ json: { id: file.id } }))}`, { user });
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(3000); // no hang: a broken Redis is skipped, not waited for
    expect(down.services.cache!.errorCount).toBeGreaterThan(0);

    await redis.restart();
    expect(await down.services.cache!.whenReady(5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100)); // the breaker window after the last error
    expect((await caller.files.get({ id: file.id })).name).toBe("during.txt");
    const hitsBefore = (await down.services.cache!.stats()).prefixes.find((p) => p.prefix === "files")?.hits ?? 0;
    await caller.files.get({ id: file.id });
    const hitsAfter = (await down.services.cache!.stats()).prefixes.find((p) => p.prefix === "files")?.hits ?? 0;
    expect(hitsAfter).toBe(hitsBefore + 1);
  });
});
