/**
 * The file-upload saga end to end: files.startUpload over the real router (and over HTTP for the
 * Idempotency-Key), a saga runner in this process on the test's own queue prefix, real sharp and
 * file-type, real blobs on disk, real quota rows and outbox events.
 */
import { createHash } from "node:crypto";
import sharp from "sharp";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { startTestSagaRunner, storedBlobs } from "~test/support/saga";
import { createSagaRegistry, PermanentStepError } from "../../reliability/saga/definition";
import { FILE_UPLOAD_STEPS, fileUploadSaga, type FileUploadInput } from "./upload-saga";
import type { UploadStatus } from "./upload-service";
import { expectTRPCError } from "~test/support/trpc-error";

let app: TestApp;
let runner: Awaited<ReturnType<typeof startTestSagaRunner>>;
let alice: SessionUser;
let bob: SessionUser;
const changed: string[] = [];

/** Fault injection by file name: a name containing "fail-<step>-<execute|compensate>" fails that phase of that step. */
async function inject(step: string, phase: "execute" | "compensate", input: FileUploadInput) {
  if (input.name.includes(`fail-${step}-${phase}`)) throw new PermanentStepError(`injected ${phase} failure in ${step}`);
}

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 512 * 1024 });
  alice = await app.createUser();
  bob = await app.createUser();
  const saga = fileUploadSaga({ db: app.services.db, storage: app.services.storage, inject, onFileChanged: async (f) => void changed.push(f.id) });
  runner = await startTestSagaRunner(app, createSagaRegistry([saga]), { concurrency: 4, sweepEveryMs: 500, stuckAfterMs: 3_000 });
});
afterAll(async () => {
  await runner?.close();
  await app?.close();
});

function form(content: string | Uint8Array, name: string, type = "application/octet-stream", tags: string[] = []) {
  const fd = new FormData();
  fd.append("file", new File([typeof content === "string" ? content : Buffer.from(content)], name, { type }));
  for (const tag of tags) fd.append("tags", tag);
  return fd;
}

async function settle(user: SessionUser, sagaId: string, timeoutMs = 20_000): Promise<UploadStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // "failed" is reported as soon as the saga turns around; wait for the undo to finish too.
    const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: sagaId } });
    if (saga.status !== "running" && saga.status !== "compensating") return app.caller(user).files.uploadStatus({ sagaId });
    if (Date.now() > deadline) throw new Error(`upload ${sagaId} still ${saga.status}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

const blobs = () => storedBlobs(app);

async function usedBytes(user: SessionUser) {
  return (await app.services.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { usedBytes: true } })).usedBytes;
}

async function liveBytes(user: SessionUser) {
  const rows = await app.services.db.file.findMany({ where: { ownerId: user.id, status: "active" }, select: { sizeBytes: true } });
  return rows.reduce((s, r) => s + r.sizeBytes, 0n);
}

describe("files.startUpload → file-upload saga", () => {
  it("an image: answers at once with the saga id, then stores, inspects, records (+ event) and derives a checksum and thumbnail", async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#336699" } }).png().toBuffer();
    const before = await usedBytes(alice);
    const started = await app.caller(alice).files.startUpload(form(png, "../holiday.png", "image/png", ["Trip"]));
    expect(started).toMatchObject({ name: "holiday.png", sizeBytes: png.byteLength, state: "processing" });
    expect(await app.services.db.sagaInstance.findUnique({ where: { id: started.sagaId }, select: { type: true } })).toEqual({ type: "file.upload" });

    const done = await settle(alice, started.sagaId);
    if (done.state !== "done") throw new Error(`upload failed: ${JSON.stringify(done)}`);
    expect(done.file).toMatchObject({
      id: started.fileId,
      name: "holiday.png",
      mimeType: "image/png",
      detectedType: "image/png",
      width: 640,
      height: 480,
      sizeBytes: png.byteLength,
      tags: ["trip"],
      checksumSha256: createHash("sha256").update(png).digest("hex"),
      status: "active",
    });
    const row = await app.services.db.file.findUniqueOrThrow({ where: { id: started.fileId } });
    expect(await app.services.storage.readAll(row.storageKey)).toEqual(png);
    const thumb = await sharp(await app.services.storage.readAll(row.thumbnailKey!)).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(["webp", 256, 192]);
    expect(await blobs()).toEqual([row.storageKey, row.thumbnailKey].sort()); // the staged copy is gone
    expect(await usedBytes(alice)).toBe(before + BigInt(png.byteLength));
    const events = await app.services.db.outboxEvent.findMany({ where: { aggregateId: started.fileId } });
    expect(events.map((e) => e.eventType)).toEqual(["file.uploaded"]);
    expect(events[0]!.payload).toMatchObject({ fileId: started.fileId, ownerId: alice.id, sizeBytes: png.byteLength, storageKey: row.storageKey });
    expect(changed).toContain(started.fileId);
    // The list the files page shows has it.
    expect((await app.caller(alice).files.list({})).items.map((f) => f.id)).toContain(started.fileId);
  });

  it("plain text is detected from its bytes (whatever the name says) and gets no thumbnail", async () => {
    const started = await app.caller(alice).files.startUpload(form("héllo wörld\n", "notes.bin", ""));
    const done = await settle(alice, started.sagaId);
    if (done.state !== "done") throw new Error(JSON.stringify(done));
    expect(done.file).toMatchObject({ detectedType: "text/plain", mimeType: "text/plain", width: null, height: null });
    const row = await app.services.db.file.findUniqueOrThrow({ where: { id: started.fileId } });
    expect(row.thumbnailKey).toBeNull();
  });

  it("a type outside the allow-list is rejected with a message saying why, and the upload leaves nothing behind", async () => {
    const before = { used: await usedBytes(alice), blobs: await blobs(), files: await app.services.db.file.count() };
    const exe = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(300, 1)]);
    const started = await app.caller(alice).files.startUpload(form(exe, "invoice.pdf", "application/pdf"));
    const done = await settle(alice, started.sagaId);
    expect(done).toEqual({
      sagaId: started.sagaId,
      fileId: started.fileId,
      state: "failed",
      undone: true,
      error: expect.stringMatching(/^Files of type application\/x-msdownload are not accepted \(by their content, whatever the name says\); allowed: image\/png/),
    });
    expect(await usedBytes(alice)).toBe(before.used);
    expect(await blobs()).toEqual(before.blobs);
    expect(await app.services.db.file.count()).toBe(before.files);
  });

  it("a damaged image is rejected at inspection", async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } }).png().toBuffer();
    const broken = Buffer.concat([png.subarray(0, 40), Buffer.alloc(40)]); // PNG signature, garbage after
    const started = await app.caller(alice).files.startUpload(form(broken, "broken.png", "image/png"));
    const done = await settle(alice, started.sagaId);
    expect(done).toMatchObject({ state: "failed", undone: true, error: expect.stringMatching(/The image cannot be read .*: it may be damaged/) });
  });

  it("a failure injected at each step compensates exactly the completed steps; quota, blobs and records are restored", async () => {
    for (const [index, step] of FILE_UPLOAD_STEPS.entries()) {
      const before = { used: await usedBytes(alice), blobs: await blobs() };
      const started = await app.caller(alice).files.startUpload(form(`payload for ${step}`, `fail-${step}-execute.txt`, "text/plain"));
      const done = await settle(alice, started.sagaId);
      expect(done, step).toMatchObject({ state: "failed", undone: true, error: `injected execute failure in ${step}` });
      const timeline = await app.caller(await app.createUser({ role: "viewer" })).admin.sagas.timeline({ id: started.sagaId });
      expect(timeline.status).toBe("compensated");
      expect(timeline.steps.filter((s) => s.phase === "compensate").map((s) => s.stepIndex)).toEqual([...Array(index).keys()].reverse());
      expect(await usedBytes(alice), step).toBe(before.used);
      expect(await blobs(), step).toEqual(before.blobs);
      const file = await app.services.db.file.findUnique({ where: { id: started.fileId } });
      if (index > FILE_UPLOAD_STEPS.indexOf("create-record")) {
        // The record existed: it is marked failed, and consumers hear file.deleted after file.uploaded.
        expect(file?.status).toBe("failed");
        const events = await app.services.db.outboxEvent.findMany({ where: { aggregateId: started.fileId }, orderBy: { aggregateSeq: "asc" } });
        expect(events.map((e) => e.eventType)).toEqual(["file.uploaded", "file.deleted"]);
      } else {
        expect(file).toBeNull();
      }
    }
  });

  it("a compensation that fails leaves the saga `failed` (visible to operators, quota still held); retrying it releases the quota", async () => {
    const before = await usedBytes(alice);
    const started = await app.caller(alice).files.startUpload(form("abc", "fail-reserve-quota-compensate fail-inspect-execute.txt", "text/plain"));
    const done = await settle(alice, started.sagaId);
    expect(done).toMatchObject({ state: "failed", undone: false, error: "injected execute failure in inspect" });
    const operator = await app.createUser({ role: "operator" });
    const failed = await app.caller(operator).admin.sagas.list({ status: ["failed"] });
    expect(failed.items.map((s) => s.id)).toContain(started.sagaId);
    expect(failed.items.find((s) => s.id === started.sagaId)!.lastError).toBe(
      "Compensation of step 1 (reserve-quota) failed: PermanentStepError: injected compensate failure in reserve-quota",
    );
    expect(await usedBytes(alice)).toBe(before + 3n); // held until someone acts: nothing silently lost
    // The cause is fixed (here: the injected fault is removed from the saga's input); the operator retries.
    await app.services.db.$executeRaw`UPDATE saga_instance SET input = jsonb_set(input, '{name}', '"fixed.txt"') WHERE id = ${started.sagaId}::uuid`;
    expect(await app.caller(operator).admin.sagas.retryStep({ id: started.sagaId })).toEqual({ status: "compensating", stepIndex: 1 });
    expect(await settle(alice, started.sagaId)).toMatchObject({ state: "failed", undone: true });
    expect(await usedBytes(alice)).toBe(before);
  });

  it("quota: a full quota is refused at once; two uploads racing for the last bytes get one success; quota never leaks", async () => {
    const carol = await app.createUser({ quotaBytes: 100n });
    await expectTRPCError(app.caller(carol).files.startUpload(form("x".repeat(101), "big.txt", "text/plain")), "PAYLOAD_TOO_LARGE", /Your storage quota is full: this file needs 101 bytes and 100 are free/);
    const [a, b] = await Promise.all([
      app.caller(carol).files.startUpload(form("a".repeat(60), "a.txt", "text/plain")),
      app.caller(carol).files.startUpload(form("b".repeat(60), "b.txt", "text/plain")),
    ]);
    const results = await Promise.all([settle(carol, a.sagaId), settle(carol, b.sagaId)]);
    expect(results.map((r) => r.state).sort()).toEqual(["done", "failed"]);
    const failed = results.find((r) => r.state === "failed")!;
    expect(failed).toMatchObject({ error: "Your storage quota is full: this file needs 60 bytes; delete files to make room" });
    expect(await usedBytes(carol)).toBe(60n);
    expect(await usedBytes(carol)).toBe(await liveBytes(carol));
    // Every user's charge equals their live files once all uploads have settled.
    for (const user of [alice, bob]) expect(await usedBytes(user)).toBe(await liveBytes(user));
  });

  it("reserving and releasing are exactly-once per execution id (a crash after commit, then a retry)", async () => {
    const dave = await app.createUser({ quotaBytes: 1000n });
    const saga = fileUploadSaga({ db: app.services.db, storage: app.services.storage });
    const reserve = saga.steps[1]!;
    const input = { fileId: "0190a0a0-0000-7000-8000-00000000000a", ownerId: dave.id, name: "x", declaredType: "", sizeBytes: 300, tags: [], stagingKey: "staging/none", headers: {} };
    const ctx = { sagaId: "0190a0a0-0000-7000-8000-00000000000b", sagaType: "file.upload", stepIndex: 1, stepName: "reserve-quota", executionId: "exec-1", attempt: 1, input, outputs: {}, signal: new AbortController().signal };
    await reserve.execute(ctx);
    await reserve.execute({ ...ctx, attempt: 2 });
    expect(await usedBytes(dave)).toBe(300n);
    await reserve.compensate!({ ...ctx, output: null });
    await reserve.compensate!({ ...ctx, output: null });
    expect(await usedBytes(dave)).toBe(0n);
  });
});

describe("upload input and status errors", () => {
  it("refuses an empty file, an oversize file and a malformed form with the right code and a clear message", async () => {
    await expectTRPCError(app.caller(alice).files.startUpload(form("", "empty.txt")), "BAD_REQUEST", /The file is empty: choose a file with content/);
    await expectTRPCError(app.caller(alice).files.startUpload(form(Buffer.alloc(512 * 1024 + 1, 97), "huge.txt")), "PAYLOAD_TOO_LARGE", /the limit is 524288 bytes/);
    await expectTRPCError(app.caller(alice).files.startUpload(new FormData()), "BAD_REQUEST", /the form needs a `file` part/);
    await expectTRPCError(app.caller(null).files.startUpload(form("x", "x.txt")), "UNAUTHORIZED", /sign in/);
  });

  it("uploadStatus: a malformed id is BAD_REQUEST; someone else's or an unknown upload is NOT_FOUND", async () => {
    const started = await app.caller(alice).files.startUpload(form("mine", "mine.txt", "text/plain"));
    await expectTRPCError(app.caller(alice).files.uploadStatus({ sagaId: "nope" }), "BAD_REQUEST", /must be an upload's saga id \(a UUID\)/);
    await expectTRPCError(app.caller(bob).files.uploadStatus({ sagaId: started.sagaId }), "NOT_FOUND", new RegExp(`Upload ${started.sagaId} was not found`));
    await expectTRPCError(app.caller(alice).files.uploadStatus({ sagaId: "0190a0a0-0000-7000-8000-000000000000" }), "NOT_FOUND", /was not found/);
    await settle(alice, started.sagaId);
  });
});

describe("idempotency", () => {
  it("starting an upload twice with one Idempotency-Key starts one saga and answers the same saga id", async () => {
    const send = () => {
      const body = new FormData();
      body.append("file", new File(["same bytes"], "once.txt", { type: "text/plain" }));
      return app.http("/api/trpc/files.startUpload", { method: "POST", body, user: alice, headers: { "Idempotency-Key": "upload-once-1" } });
    };
    const first = await send();
    expect(first.status).toBe(200);
    const second = await send();
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    const a = superjson.deserialize<{ sagaId: string }>((await first.json()).result.data);
    const b = superjson.deserialize<{ sagaId: string }>((await second.json()).result.data);
    expect(b.sagaId).toBe(a.sagaId);
    const sagas = await app.services.db.sagaInstance.findMany({ where: { type: "file.upload", input: { path: ["name"], equals: "once.txt" } } });
    expect(sagas.map((s) => s.id)).toEqual([a.sagaId]);
    expect((await settle(alice, a.sagaId)).state).toBe("done");
  });
});
