import { utimes } from "node:fs/promises";
import path from "node:path";
import { v7 as uuidv7 } from "uuid";
import { describe, expect, it } from "vitest";
import { createTestApp } from "~test/support/app";
import { setUpAppWithOwner } from "~test/support/app-with-owner";
import { sweepOrphanBlobs } from "./orphan-blobs";

const fixture = setUpAppWithOwner();

const HOUR = 3_600_000;

async function putBlob(key: string, ageMs: number) {
  await fixture.app.services.storage.put(key, Buffer.from(`bytes of ${key}`));
  const when = new Date(Date.now() - ageMs);
  await utimes(path.join(fixture.app.storageDir, key), when, when);
}

describe("sweepOrphanBlobs", () => {
  it("removes old blobs nothing needs, and keeps live files, resumable sagas' blobs and fresh writes", async () => {
    const fd = new FormData();
    fd.append("file", new File(["live content"], "live.txt", { type: "text/plain" }));
    const live = await fixture.app.caller(fixture.owner).files.upload(fd);
    const liveKey = (await fixture.app.services.db.file.findUniqueOrThrow({ where: { id: live.id } })).storageKey;
    const gone = await fixture.app.caller(fixture.owner).files.upload(fd);
    const goneKey = (await fixture.app.services.db.file.findUniqueOrThrow({ where: { id: gone.id } })).storageKey;
    await fixture.app.caller(fixture.owner).files.delete({ id: gone.id });
    for (const key of [liveKey, goneKey]) {
      const when = new Date(Date.now() - 2 * HOUR);
      await utimes(path.join(fixture.app.storageDir, key), when, when);
    }

    // A saga still running (it may resume or compensate): its staged bytes and stored blob stay.
    const sagaFileId = uuidv7();
    const sagaStaging = `staging/${uuidv7()}`;
    await fixture.app.services.db.sagaInstance.create({
      data: { type: "file.upload", status: "running", input: { fileId: sagaFileId, ownerId: fixture.owner.id, stagingKey: sagaStaging } },
    });
    await putBlob(sagaStaging, 2 * HOUR);
    await putBlob(`files/${fixture.owner.id}/${sagaFileId}`, 2 * HOUR);

    const orphans = [
      `files/${fixture.owner.id}/${uuidv7()}`, // stored, then its transaction rolled back
      `staging/${uuidv7()}`, // staged by a request that failed before its saga row
      `thumbs/${fixture.owner.id}/${uuidv7()}.webp`, // thumbnail of a record that never committed
      `files/${fixture.owner.id}/${uuidv7()}.0b6e6a4e.part`, // temp file of an interrupted write
    ];
    for (const key of orphans) await putBlob(key, 2 * HOUR);
    const fresh = `files/${fixture.owner.id}/${uuidv7()}`; // may be a write whose row is about to commit
    await putBlob(fresh, 60_000);

    const result = await sweepOrphanBlobs(fixture.app.services, { olderThan: new Date(Date.now() - HOUR) });

    expect(new Set(result.keys)).toEqual(new Set([...orphans, goneKey]));
    expect(result.deleted).toBe(orphans.length + 1);
    for (const key of [...orphans, goneKey]) expect(await fixture.app.services.storage.exists(key)).toBe(false);
    for (const key of [liveKey, sagaStaging, `files/${fixture.owner.id}/${sagaFileId}`, fresh]) expect(await fixture.app.services.storage.exists(key)).toBe(true);

    // A second sweep finds nothing more to do.
    expect((await sweepOrphanBlobs(fixture.app.services, { olderThan: new Date(Date.now() - HOUR) })).deleted).toBe(0);
  });

  it("refuses to sweep a storage folder that another database has claimed", async () => {
    const other = await createTestApp();
    try {
      // The same folder, seen from another database: every blob looks unreferenced there.
      const { LocalDiskStorage } = await import("~/server/platform/storage/local-disk-storage");
      const shared = { db: other.services.db, storage: new LocalDiskStorage(fixture.app.storageDir) };
      const orphan = `staging/${uuidv7()}`;
      await putBlob(orphan, 2 * HOUR);
      const result = await sweepOrphanBlobs(shared, { olderThan: new Date(Date.now() - HOUR) });
      expect(result.skipped).toMatch(/belongs to database/);
      expect(result.deleted).toBe(0);
      expect(await fixture.app.services.storage.exists(orphan)).toBe(true);
      await fixture.app.services.storage.delete(orphan);
    } finally {
      await other.close();
    }
  });

  it("stops at maxDeletes so one run stays bounded", async () => {
    for (let i = 0; i < 5; i++) await putBlob(`staging/${uuidv7()}`, 2 * HOUR);
    const first = await sweepOrphanBlobs(fixture.app.services, { olderThan: new Date(Date.now() - HOUR), maxDeletes: 3 });
    expect(first.deleted).toBe(3);
    const second = await sweepOrphanBlobs(fixture.app.services, { olderThan: new Date(Date.now() - HOUR), maxDeletes: 3 });
    expect(second.deleted).toBe(2);
  });
});
