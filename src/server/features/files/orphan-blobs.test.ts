import { utimes } from "node:fs/promises";
import path from "node:path";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { sweepOrphanBlobs } from "./orphan-blobs";

let app: TestApp;
let owner: SessionUser;

beforeAll(async () => {
  app = await createTestApp();
  owner = await app.createUser();
});
afterAll(() => app.close());

const HOUR = 3_600_000;

async function putBlob(key: string, ageMs: number) {
  await app.services.storage.put(key, Buffer.from(`bytes of ${key}`));
  const when = new Date(Date.now() - ageMs);
  await utimes(path.join(app.storageDir, key), when, when);
}

describe("sweepOrphanBlobs", () => {
  it("removes old blobs nothing needs, and keeps live files, resumable sagas' blobs and fresh writes", async () => {
    const fd = new FormData();
    fd.append("file", new File(["live content"], "live.txt", { type: "text/plain" }));
    const live = await app.caller(owner).files.upload(fd);
    const liveKey = (await app.services.db.file.findUniqueOrThrow({ where: { id: live.id } })).storageKey;
    const gone = await app.caller(owner).files.upload(fd);
    const goneKey = (await app.services.db.file.findUniqueOrThrow({ where: { id: gone.id } })).storageKey;
    await app.caller(owner).files.delete({ id: gone.id });
    for (const key of [liveKey, goneKey]) {
      const when = new Date(Date.now() - 2 * HOUR);
      await utimes(path.join(app.storageDir, key), when, when);
    }

    // A saga still running (it may resume or compensate): its staged bytes and stored blob stay.
    const sagaFileId = uuidv7();
    const sagaStaging = `staging/${uuidv7()}`;
    await app.services.db.sagaInstance.create({
      data: { type: "file.upload", status: "running", input: { fileId: sagaFileId, ownerId: owner.id, stagingKey: sagaStaging } },
    });
    await putBlob(sagaStaging, 2 * HOUR);
    await putBlob(`files/${owner.id}/${sagaFileId}`, 2 * HOUR);

    const orphans = [
      `files/${owner.id}/${uuidv7()}`, // stored, then its transaction rolled back
      `staging/${uuidv7()}`, // staged by a request that failed before its saga row
      `thumbs/${owner.id}/${uuidv7()}.webp`, // thumbnail of a record that never committed
      `files/${owner.id}/${uuidv7()}.0b6e6a4e.part`, // temp file of an interrupted write
    ];
    for (const key of orphans) await putBlob(key, 2 * HOUR);
    const fresh = `files/${owner.id}/${uuidv7()}`; // may be a write whose row is about to commit
    await putBlob(fresh, 60_000);

    const result = await sweepOrphanBlobs(app.services, { olderThan: new Date(Date.now() - HOUR) });

    expect(new Set(result.keys)).toEqual(new Set([...orphans, goneKey]));
    expect(result.deleted).toBe(orphans.length + 1);
    for (const key of [...orphans, goneKey]) expect(await app.services.storage.exists(key)).toBe(false);
    for (const key of [liveKey, sagaStaging, `files/${owner.id}/${sagaFileId}`, fresh]) expect(await app.services.storage.exists(key)).toBe(true);

    // A second sweep finds nothing more to do.
    expect((await sweepOrphanBlobs(app.services, { olderThan: new Date(Date.now() - HOUR) })).deleted).toBe(0);
  });

  it("refuses to sweep a storage folder that another database has claimed", async () => {
    const other = await createTestApp();
    try {
      // The same folder, seen from another database: every blob looks unreferenced there.
      const { LocalDiskStorage } = await import("~/server/platform/storage/local-disk-storage");
      const shared = { db: other.services.db, storage: new LocalDiskStorage(app.storageDir) };
      const orphan = `staging/${uuidv7()}`;
      await putBlob(orphan, 2 * HOUR);
      const result = await sweepOrphanBlobs(shared, { olderThan: new Date(Date.now() - HOUR) });
      expect(result.skipped).toMatch(/belongs to database/);
      expect(result.deleted).toBe(0);
      expect(await app.services.storage.exists(orphan)).toBe(true);
      await app.services.storage.delete(orphan);
    } finally {
      await other.close();
    }
  });

  it("stops at maxDeletes so one run stays bounded", async () => {
    for (let i = 0; i < 5; i++) await putBlob(`staging/${uuidv7()}`, 2 * HOUR);
    const first = await sweepOrphanBlobs(app.services, { olderThan: new Date(Date.now() - HOUR), maxDeletes: 3 });
    expect(first.deleted).toBe(3);
    const second = await sweepOrphanBlobs(app.services, { olderThan: new Date(Date.now() - HOUR), maxDeletes: 3 });
    expect(second.deleted).toBe(2);
  });
});
