/**
 * Issue 11, hole 10: a file row an upload saga compensated (`failed`, its blob removed) is not
 * live. Its file.uploaded event must end quietly in the inspector; dead-lettering it would block
 * the compensation's file.deleted behind it. Real relay, consumers, PostgreSQL and Redis.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { inTransaction } from "~/server/platform/db/transaction";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { fileChangeToEvent } from "~/server/features/files/files-outbox";
import { setUpAppWithOwner } from "~test/support/app-with-owner";
import { startConsumers, startRelay, waitFor } from "~test/fixtures/outbox.test-support";
import { defaultConsumers } from "~test/support/worker";

const fixture = setUpAppWithOwner();

describe("file-inspector and files that are not live", () => {
  it("a `failed` file's file.uploaded is consumed without inspecting, and its file.deleted is not blocked", async () => {
    const db = fixture.app.services.db;
    const id = randomUUID();
    const storageKey = `files/${fixture.owner.id}/${id}`; // never written: the compensation removed it
    const file = { id, ownerId: fixture.owner.id, name: "gone.txt", mimeType: "text/plain", sizeBytes: 4, storageKey, tags: [] };
    // What the upload saga leaves: the record (create-record), then marked failed with a
    // file.deleted event (its compensation); derive never ran, so no checksum.
    await inTransaction(db, async (tx) => {
      await tx.file.create({ data: { ...file, sizeBytes: 4n, detectedType: "text/plain", status: "failed" } });
      await appendEvent(tx, fileChangeToEvent({ type: "file.uploaded", file }));
      await appendEvent(tx, fileChangeToEvent({ type: "file.deleted", file: { id, ownerId: fixture.owner.id, storageKey, sizeBytes: 4 } }));
    });

    const consumers = await startConsumers(fixture.app, [...defaultConsumers]);
    const relay = await startRelay(fixture.app, { pollIntervalMs: 50 });
    try {
      const settled = await waitFor("both events consumed or dead", async () => {
        const rows = await db.outboxEvent.findMany({ where: { aggregateId: id }, orderBy: { aggregateSeq: "asc" }, select: { eventType: true, status: true, consumedAt: true, lastError: true } });
        return rows.every((r) => r.consumedAt !== null) || rows.some((r) => r.status === "dead") ? rows : false;
      });
      expect(settled.map((r) => [r.eventType, r.status, r.consumedAt !== null, r.lastError])).toEqual([
        ["file.uploaded", "published", true, null],
        ["file.deleted", "published", true, null],
      ]);
      expect((await db.file.findUniqueOrThrow({ where: { id } })).checksumSha256).toBeNull();
    } finally {
      await relay.close();
      await consumers.close();
    }
  });
});
