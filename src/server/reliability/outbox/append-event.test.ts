import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { inTransaction } from "~/server/platform/db/transaction";
import { DomainError } from "../../platform/errors";
import { appendEvent, EventContractError } from "./append-event";
import { createFilesServiceWithOutbox, eventHeadersFromHttp } from "../../features/files/files-outbox";
import type { NewEvent } from "../../contracts/events";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
let alice: SessionUser;
beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 4096 });
  alice = await app.createUser({ quotaBytes: 10_000n });
});
afterAll(() => app.close());

const db = () => app.services.db;

function upload(files: ReturnType<typeof createFilesServiceWithOutbox>, owner: SessionUser, content: string, name = "a.txt") {
  return files.upload({ ownerId: owner.id, name, declaredType: "text/plain", bytes: Buffer.from(content), tags: [], maxBytes: 4096 });
}

async function failure(promise: Promise<unknown>) {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as Error,
  );
}

const counts = async () => ({ events: await db().outboxEvent.count(), files: await db().file.count(), aggregates: await db().outboxAggregate.count() });

describe("every files mutation writes its event in the same transaction", () => {
  it("upload, rename, tags and delete each commit exactly one event with the right payload and headers", async () => {
    // Upload through the files service composed with the outbox (files.upload runs it inside a
    // saga elsewhere); rename over real HTTP so the request's headers reach the event.
    const files = createFilesServiceWithOutbox(app.services, { headers: eventHeadersFromHttp(new Headers({ "x-request-id": "req-123" })) });
    const { id: fileId } = await upload(files, alice, "hello", "notes.txt");
    const res = await app.http("/api/trpc/files.rename", {
      method: "POST",
      body: JSON.stringify({ json: { id: fileId, name: "renamed.txt" } }),
      user: alice,
      headers: { "content-type": "application/json", "x-correlation-id": "corr-456", "idempotency-key": "key-789" },
    });
    expect(res.status).toBe(200);
    await app.caller(alice).files.setTags({ id: fileId, tags: ["a", "b"] });
    await app.caller(alice).files.delete({ id: fileId });

    const events = await db().outboxEvent.findMany({ where: { aggregateId: fileId }, orderBy: { aggregateSeq: "asc" } });
    expect(events.map((e) => [e.aggregateSeq, e.eventType, e.status])).toEqual([
      [1, "file.uploaded", "pending"],
      [2, "file.renamed", "pending"],
      [3, "file.tagged", "pending"],
      [4, "file.deleted", "pending"],
    ]);
    const row = await db().file.findUniqueOrThrow({ where: { id: fileId } });
    expect(events[0]!.payload).toEqual({ fileId, ownerId: alice.id, name: "notes.txt", mimeType: "text/plain", sizeBytes: 5, storageKey: row.storageKey, tags: [] });
    expect(events[0]!.headers).toEqual({ correlationId: "req-123" });
    expect(events[1]!.headers).toEqual({ correlationId: "corr-456", idempotencyKey: "key-789" });
    expect(events[1]!.payload).toEqual({ fileId, ownerId: alice.id, from: "notes.txt", to: "renamed.txt" });
    expect(events[2]!.payload).toEqual({ fileId, ownerId: alice.id, tags: ["a", "b"] });
    expect(events[3]!.payload).toEqual({ fileId, ownerId: alice.id, storageKey: row.storageKey, sizeBytes: 5 });
    expect(events.every((e) => e.aggregateType === "file" && e.maxAttempts === 5 && e.attempts === 0)).toBe(true);
  });

  it("a rejected upload (quota full) leaves no event and no aggregate sequence behind", async () => {
    const small = await app.createUser({ quotaBytes: 3n });
    const before = await counts();
    const error = await failure(upload(createFilesServiceWithOutbox(app.services), small, "too big for the quota"));
    expect((error as DomainError).kind).toBe("too_large");
    expect(error.message).toMatch(/quota/);
    expect(await counts()).toEqual(before);
  });

  it("a business transaction that rolls back after writing its event leaves no event", async () => {
    const before = await counts();
    const fileId = randomUUID();
    await failure(
      inTransaction(db(), async (tx) => {
        await appendEvent(tx, { type: "file.tagged", aggregateId: fileId, payload: { fileId, ownerId: alice.id, tags: [] } });
        throw new Error("business rule failed after the event was written");
      }),
    );
    expect(await counts()).toEqual(before);
  });

  it("concurrent mutations of one file get gap-free sequence numbers in commit order", async () => {
    const file = await upload(createFilesServiceWithOutbox(app.services), alice, "x", "race.txt");
    const names = Array.from({ length: 12 }, (_, i) => `name-${i}.txt`);
    await Promise.all(names.map((name) => app.caller(alice).files.rename({ id: file.id, name })));
    const events = await db().outboxEvent.findMany({ where: { aggregateId: file.id }, orderBy: { aggregateSeq: "asc" } });
    expect(events.map((e) => e.aggregateSeq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    // Commit order: each rename's `from` is the previous rename's `to`, and the last `to` is the stored name.
    const renames = events.slice(1).map((e) => e.payload as { from: string; to: string });
    for (let i = 1; i < renames.length; i++) expect(renames[i]!.from).toBe(renames[i - 1]!.to);
    expect(renames.at(-1)!.to).toBe((await db().file.findUniqueOrThrow({ where: { id: file.id } })).name);
  });
});

describe("bad events fail the business transaction with a clear error", () => {
  const fileId = randomUUID();
  it.each([
    ["an unknown event type", { type: "file.exploded", aggregateId: fileId, payload: {} }, EventContractError, /Unknown event type "file.exploded".*known: file.uploaded/],
    ["a payload that does not match its schema", { type: "file.tagged", aggregateId: fileId, payload: { fileId: "nope", tags: "x" } }, EventContractError, /Invalid payload for event file.tagged:[\s\S]*fileId[\s\S]*ownerId[\s\S]*tags/],
    ["bad headers", { type: "file.tagged", aggregateId: fileId, payload: { fileId, ownerId: fileId, tags: [] }, headers: { traceparent: "x" } }, EventContractError, /Invalid headers for event file.tagged/],
    ["zero max attempts", { type: "file.tagged", aggregateId: fileId, payload: { fileId, ownerId: fileId, tags: [] }, maxAttempts: 0 }, EventContractError, /maxAttempts must be a whole number from 1 to 100 \(got 0\)/],
    ["an empty aggregate id", { type: "file.tagged", aggregateId: "", payload: { fileId, ownerId: fileId, tags: [] } }, EventContractError, /aggregate id of 1–200 characters/],
  ] as const)("rejects %s and rolls back the business write with it", async (_label, event, kind, message) => {
    const before = await counts();
    const error = await failure(
      inTransaction(db(), async (tx) => {
        await tx.file.create({ data: { ownerId: alice.id, name: "ghost.txt", mimeType: "text/plain", sizeBytes: 1n, storageKey: `ghost/${randomUUID()}` } });
        await appendEvent(tx, event as unknown as NewEvent);
      }),
    );
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });

  it("rejects a payload over the size limit: PAYLOAD_TOO_LARGE through the API, no file, no blob, no event", async () => {
    const files = createFilesServiceWithOutbox({ db: db(), storage: app.services.storage }, { maxPayloadBytes: 300 });
    const before = await counts();
    const error = await failure(files.upload({ ownerId: alice.id, name: `${"n".repeat(250)}.txt`, declaredType: "text/plain", bytes: Buffer.from("abc"), tags: [], maxBytes: 4096 }));
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe("too_large");
    expect(error.message).toMatch(/The file.uploaded event would be \d+ bytes; events are limited to 300 bytes/);
    expect(await counts()).toEqual(before);
  });
});

describe("event headers from HTTP", () => {
  it("keeps a sane correlation id and idempotency key, replaces junk with a fresh id", () => {
    expect(eventHeadersFromHttp(new Headers({ "x-correlation-id": "c-1", "idempotency-key": "k-1" }))).toEqual({ correlationId: "c-1", idempotencyKey: "k-1" });
    const junk = eventHeadersFromHttp(new Headers({ "x-request-id": "x".repeat(500), "idempotency-key": "has space" }));
    expect(junk.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(junk.idempotencyKey).toBeUndefined();
    expect(eventHeadersFromHttp(null).correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
