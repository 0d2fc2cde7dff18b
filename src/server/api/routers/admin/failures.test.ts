import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { inTransaction } from "~/server/platform/db/transaction";
import { FILE_UPLOAD_SAGA } from "~/server/features/files/upload-saga";
import { errorFingerprint, UNFINGERPRINTED } from "~/server/reliability/failures/fingerprint";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { recordConsumerFailure } from "~/server/reliability/outbox/consumption";
import { createTestApp, type TestApp } from "~test/support/app";
import { createUsersOfEachRole } from "~test/support/roles";
import { expectTRPCError } from "~test/support/trpc-error";

/** Failure groups through the real router: failures recorded by the real write paths, real PostgreSQL. */
let app: TestApp;
let operator: SessionUser;
let viewer: SessionUser;
let user: SessionUser;
const db = () => app.services.db;

/** An event whose consumer failed for good with this error (the consumer path records it). */
async function deadEvent(type: "file.tagged" | "file.renamed", error: Error) {
  const fileId = randomUUID();
  const payload = type === "file.tagged" ? { fileId, ownerId: fileId, tags: ["x"] } : { fileId, ownerId: fileId, from: "o.txt", to: "n.txt" };
  const { id } = await inTransaction(db(), (tx) => appendEvent(tx, { type, aggregateId: fileId, payload } as Parameters<typeof appendEvent>[1]));
  await db().outboxEvent.update({ where: { id }, data: { status: "published", publishedAt: new Date() } });
  await recordConsumerFailure(db(), id, "file-inspector", error, true);
  return id;
}

function storageError(fileId: string, bytes: number) {
  const e = new Error(`blob ${fileId} is missing (${bytes} bytes expected)`);
  e.name = "StorageError";
  e.stack = `StorageError: blob ${fileId} is missing\n    at readBlob (/srv/app/node_modules/x/index.js:1:1)\n    at inspect (/srv/app/worker/processors/consumers/file-inspector.ts:${bytes % 90}:7)`;
  return e;
}

beforeAll(async () => {
  app = await createTestApp();
  ({ operator, viewer, user } = await createUsersOfEachRole(app));
});
afterAll(() => app.close());

describe("admin.failures", () => {
  it("groups failures of one cause (different ids and numbers) together, with count, times, types and a sample", async () => {
    const storage = [
      await deadEvent("file.tagged", storageError(randomUUID(), 10)),
      await deadEvent("file.renamed", storageError(randomUUID(), 2048)),
      await deadEvent("file.tagged", storageError(randomUUID(), 77)),
    ];
    const other = await deadEvent("file.tagged", new TypeError("cannot read properties of undefined (reading 'size')"));
    // A row failed before fingerprints existed.
    const legacy = await deadEvent("file.tagged", new Error("old"));
    await db().outboxEvent.update({ where: { id: legacy }, data: { failureFingerprint: null } });

    const groups = await app.caller(viewer).admin.failures.groups({ source: "outbox" });
    expect(groups.map((g) => g.count)).toEqual([3, 1, 1]);
    const [big] = groups;
    const fp = (await db().outboxEvent.findUniqueOrThrow({ where: { id: storage[0]! } })).failureFingerprint;
    expect(big).toMatchObject({
      source: "outbox",
      fingerprint: fp,
      types: ["file.renamed", "file.tagged"],
      byStatus: { dead: 3 },
      errorClass: "StorageError",
      message: "consumer file-inspector: blob <uuid> is missing (<n> bytes expected)",
      frame: "inspect (worker/processors/consumers/file-inspector.ts)",
    });
    expect(storage).toContain(big!.sample.id);
    expect(big!.firstSeen!.getTime()).toBeLessThanOrEqual(big!.lastSeen!.getTime());
    expect(groups.find((g) => g.sample.id === other)?.errorClass).toBe("TypeError");
    expect(groups.find((g) => g.sample.id === legacy)?.fingerprint).toBe(UNFINGERPRINTED);
    // The group is one click from the outbox list: the list filters by fingerprint.
    expect((await app.caller(viewer).admin.outbox.list({ filter: { fingerprint: fp! } })).items.map((e) => e.id).sort()).toEqual([...storage].sort());
  });

  it("retries a whole outbox group, audit-logged with the dry-run and affected counts", async () => {
    const ids = [await deadEvent("file.tagged", storageError(randomUUID(), 5)), await deadEvent("file.tagged", storageError(randomUUID(), 6))];
    const fp = (await db().outboxEvent.findUniqueOrThrow({ where: { id: ids[0]! } })).failureFingerprint!;
    const before = await db().outboxEvent.count({ where: { failureFingerprint: fp, status: "dead" } });
    const result = await app.caller(operator).admin.failures.retryGroup({ source: "outbox", fingerprint: fp, reason: "storage is back" });
    expect(result).toMatchObject({ matched: before, affected: before, skipped: 0 });
    expect(await db().outboxEvent.count({ where: { failureFingerprint: fp, status: { in: ["failed", "dead"] } } })).toBe(0);
    const audit = await db().operatorAudit.findMany({ where: { correlationId: result.correlationId } });
    expect(audit.every((r) => r.action === "failures.retryGroup" && r.dryRunCount === before && r.reason === "storage is back")).toBe(true);
    expect(audit.reduce((n, r) => n + (r.affectedCount ?? 0), 0)).toBe(before);
    expect((audit[0]!.targetIds as string[])[0]).toBe(fp);
  });

  it("discards a whole outbox group; refuses to discard a saga group", async () => {
    const err = new RangeError("quota 12 exceeded");
    const ids = [await deadEvent("file.tagged", err), await deadEvent("file.tagged", err)];
    const fp = errorFingerprint({ message: `consumer file-inspector: ${err.message}`, stack: err.stack });
    expect((await db().outboxEvent.findUniqueOrThrow({ where: { id: ids[0]! } })).failureFingerprint).toBe(fp);
    const result = await app.caller(operator).admin.failures.discardGroup({ source: "outbox", fingerprint: fp });
    expect(result).toMatchObject({ matched: 2, affected: 2 });
    expect((await db().outboxEvent.findMany({ where: { id: { in: ids } } })).map((e) => e.status)).toEqual(["discarded", "discarded"]);
    await expectTRPCError(app.caller(operator).admin.failures.discardGroup({ source: "saga", fingerprint: fp }), "BAD_REQUEST", /Only outbox failure groups can be discarded/);
  });

  it("groups failed sagas and redrives a saga group, saga by saga, with one summary row", async () => {
    const lastError = (n: number) => `Step 1 (store) failed: StorageError: disk ${n} full`;
    const fp = errorFingerprint({ message: lastError(1) });
    const sagas = await Promise.all(
      [1, 2, 3].map((n) =>
        db().sagaInstance.create({
          data: { type: FILE_UPLOAD_SAGA, status: "compensated", currentStep: 0, input: {}, context: { generation: 0, outputs: {} }, lastError: lastError(n), failureFingerprint: fp },
        }),
      ),
    );
    const group = (await app.caller(viewer).admin.failures.groups({ source: "saga" })).find((g) => g.fingerprint === fp);
    expect(group).toMatchObject({ count: 3, types: [FILE_UPLOAD_SAGA], byStatus: { compensated: 3 }, errorClass: "StorageError" });
    const result = await app.caller(operator).admin.failures.retryGroup({ source: "saga", fingerprint: fp, reason: "disk replaced" });
    expect(result).toMatchObject({ matched: 3, affected: 3, skipped: 0 });
    expect((await db().sagaInstance.findMany({ where: { id: { in: sagas.map((s) => s.id) } } })).every((s) => s.status === "running")).toBe(true);
    const audit = await db().operatorAudit.findMany({ where: { correlationId: result.correlationId }, orderBy: { id: "asc" } });
    expect(audit.map((r) => r.action)).toEqual(["saga.redrive", "saga.redrive", "saga.redrive", "failures.retryGroup"]);
    expect(audit.at(-1)).toMatchObject({ dryRunCount: 3, affectedCount: 3, reason: "disk replaced" });
  });

  it("is for viewers (read) and operators (act); bad input is a 400", async () => {
    await expectTRPCError(app.caller(null).admin.failures.groups({}), "UNAUTHORIZED");
    await expectTRPCError(app.caller(user).admin.failures.groups({}), "FORBIDDEN");
    await expectTRPCError(app.caller(viewer).admin.failures.retryGroup({ source: "outbox", fingerprint: UNFINGERPRINTED }), "FORBIDDEN");
    await expectTRPCError(app.caller(operator).admin.failures.retryGroup({ source: "outbox", fingerprint: "xyz" }), "BAD_REQUEST", /fingerprint/);
  });
});
