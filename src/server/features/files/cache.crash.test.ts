import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";
import { createFilesServiceWithOutbox } from "./files-outbox";
import { invalidateForFileEvent } from "./cache-events";
import { callerScope, entryKey, keyspace } from "../../reliability/cache/keys";

/**
 * The staleness bound after a committed write, end to end:
 *   1. normally the mutation middleware invalidates right after the commit (cache.test.ts);
 *   2. if the process dies between the commit and that invalidation, the outbox event committed
 *      with the write carries the ids, and its consumer (invalidateForFileEvent) invalidates;
 *   3. if nothing invalidates, the entry's TTL (60 s for files.*) ends it.
 * Here the "crash" is a write committed through the files service with its outbox hook but without
 * the tRPC middleware, exactly what a process that died after the commit leaves behind.
 */
let app: TestApp;
let alice: SessionUser;
let redis: Redis;

beforeAll(async () => {
  app = await createTestApp();
  alice = await app.createUser();
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await redis.quit();
  await app.close();
});

function form(content: string, name: string) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  return fd;
}

describe("a write whose direct invalidation was lost (crash between commit and DEL)", () => {
  it("is stale only until its outbox event is consumed; the TTL bounds it if nothing consumes it", async () => {
    const caller = app.caller(alice);
    const file = await caller.files.upload(form("x", "before.txt"));
    expect((await caller.files.get({ id: file.id })).name).toBe("before.txt");
    expect((await caller.files.list({})).items.map((f) => f.name)).toEqual(["before.txt"]);

    // The write commits (with its outbox event) and the process "dies" before invalidating.
    await createFilesServiceWithOutbox(app.services).rename(alice.id, file.id, "after.txt");
    expect((await caller.files.get({ id: file.id })).name).toBe("before.txt"); // the hole the outbox closes

    // Bound 3: nothing stays longer than the TTL (60 s for files.get), whatever happens.
    const key = entryKey(keyspace(app.prefix), { prefix: "files", path: "files.get", scope: callerScope(alice), input: { id: file.id } });
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);

    // Bound 2: the event committed with the write, as its consumer receives it.
    const row = await app.services.db.outboxEvent.findFirstOrThrow({ where: { aggregateId: file.id, eventType: "file.renamed" } });
    const { tags } = await invalidateForFileEvent(app.services.cache!, { type: row.eventType, payload: row.payload });
    expect(tags).toEqual([`file:${file.id}`, `files:owner:${alice.id}`]);
    expect((await caller.files.get({ id: file.id })).name).toBe("after.txt");
    expect((await caller.files.list({})).items.map((f) => f.name)).toEqual(["after.txt"]);
  });

  it("covers every files mutation's event: tagged and deleted too", async () => {
    const caller = app.caller(alice);
    const file = await caller.files.upload(form("y", "tagme.txt"));
    await caller.files.get({ id: file.id });
    const service = createFilesServiceWithOutbox(app.services);

    await service.setTags(alice.id, file.id, ["late"]);
    expect((await caller.files.get({ id: file.id })).tags).toEqual([]);
    const tagged = await app.services.db.outboxEvent.findFirstOrThrow({ where: { aggregateId: file.id, eventType: "file.tagged" } });
    await invalidateForFileEvent(app.services.cache!, { type: tagged.eventType, payload: tagged.payload });
    expect((await caller.files.get({ id: file.id })).tags).toEqual(["late"]);

    await service.remove(alice.id, file.id);
    const deleted = await app.services.db.outboxEvent.findFirstOrThrow({ where: { aggregateId: file.id, eventType: "file.deleted" } });
    await invalidateForFileEvent(app.services.cache!, { type: deleted.eventType, payload: deleted.payload });
    await expect(caller.files.get({ id: file.id })).rejects.toThrow(/has been deleted/);
    expect((await caller.files.list({ limit: 100 })).items.map((f) => f.id)).not.toContain(file.id);
  });
});
