/**
 * Idempotency-Key middleware against the real stack: the tRPC fetch handler (real headers), the
 * real files service, PostgreSQL and Redis of this test file. The "effect" counted is what a
 * retried upload must never do twice: a file row and a quota charge.
 */
import { mkdir, writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createInnerContext } from "~/server/api/trpc";
import { createCaller } from "~/server/api/root";
import { deleteExpiredIdempotencyKeys } from "~/server/reliability/idempotency/operations";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
let locker: pg.Client;

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 64 * 1024 });
  locker = new pg.Client({ connectionString: app.databaseUrl });
  await locker.connect();
});
afterAll(async () => {
  await locker.end();
  await app.close();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function uploadBody(content: string, name = "note.txt", tags: string[] = []) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  for (const tag of tags) fd.append("tags", tag);
  return fd;
}

function upload(user: SessionUser, key: string | undefined, content: string, name = "note.txt") {
  return app.http("/api/trpc/files.upload", {
    method: "POST",
    body: uploadBody(content, name),
    user,
    headers: key === undefined ? {} : { "Idempotency-Key": key },
  });
}

function mutate(procedure: string, user: SessionUser | undefined, key: string | undefined, input: unknown) {
  return app.http(`/api/trpc/${procedure}`, {
    method: "POST",
    body: JSON.stringify({ json: input }),
    user,
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { "Idempotency-Key": key }) },
  });
}

async function read(res: Response) {
  return { status: res.status, body: (await res.json()) as Json, replayed: res.headers.get("idempotent-replayed"), retryAfter: res.headers.get("retry-after") };
}

async function effects(user: SessionUser) {
  const files = await app.services.db.file.count({ where: { ownerId: user.id } });
  const { usedBytes } = await app.services.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { usedBytes: true } });
  return { files, usedBytes };
}

async function record(user: SessionUser, procedure: string, key: string) {
  return app.services.db.idempotencyKey.findUnique({ where: { scope_key: { scope: `${user.id}:${procedure}`, key } } });
}

/** Hold the user's row lock so an upload blocks inside its transaction (after claiming its key). */
async function holdUserRow(user: SessionUser) {
  await locker.query("BEGIN");
  await locker.query("SELECT id FROM app_user WHERE id = $1 FOR UPDATE", [user.id]);
  return async () => void (await locker.query("COMMIT"));
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const someoneWaitsOnALock = async () =>
  (await locker.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rowCount! > 0;

describe("first request and replay", () => {
  it("executes once, stores the result with the effect, and replays it with Idempotent-Replayed: true", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const first = await read(await upload(user, key, "hello"));
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    const stored = await record(user, "files.upload", key);
    expect(stored).toMatchObject({ state: "completed", responseStatus: 200, leaseUntil: null, claimToken: null });
    expect(stored!.expiresAt.getTime() - stored!.createdAt.getTime()).toBe(24 * 3600_000);

    const again = await read(await upload(user, key, "hello"));
    expect(again.status).toBe(200);
    expect(again.replayed).toBe("true");
    // The same answer (JSONB may reorder object keys), superjson meta (the Date of createdAt) included.
    expect(again.body).toEqual(first.body);
    expect(first.body.result.data.meta.values.createdAt).toEqual(["Date"]);
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 5n });
  });

  it("accepts the IETF sf-string form of the key as the same key", async () => {
    const user = await app.createUser();
    const first = await read(await upload(user, "order-42", "abc"));
    const quoted = await read(await upload(user, '"order-42"', "abc"));
    expect(quoted.replayed).toBe("true");
    expect(quoted.body).toEqual(first.body);
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 3n });
  });

  it("without a key, every request executes (no record is written)", async () => {
    const user = await app.createUser();
    await upload(user, undefined, "one");
    await upload(user, undefined, "one");
    expect(await effects(user)).toEqual({ files: 2, usedBytes: 6n });
    expect(await app.services.db.idempotencyKey.count({ where: { scope: { startsWith: `${user.id}:` } } })).toBe(0);
  });

  it("replays JSON mutations too (rename), and a retry after a completed rename does not rename again", async () => {
    const user = await app.createUser();
    const file = (await read(await upload(user, undefined, "x", "before.txt"))).body.result.data.json;
    const key = randomUUID();
    const first = await read(await mutate("files.rename", user, key, { id: file.id, name: "after.txt" }));
    expect(first.body.result.data.json.name).toBe("after.txt");
    // Someone renames it again with another key; a late retry of the first rename must not undo that.
    await mutate("files.rename", user, randomUUID(), { id: file.id, name: "latest.txt" });
    const retry = await read(await mutate("files.rename", user, key, { id: file.id, name: "after.txt" }));
    expect(retry.replayed).toBe("true");
    expect(retry.body.result.data.json.name).toBe("after.txt");
    expect((await app.caller(user).files.get({ id: file.id })).name).toBe("latest.txt");
  });
});

describe("50 concurrent identical requests with one key", () => {
  it("execute exactly once; every other one gets the replayed result or 409 with Retry-After", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 50 }, () => upload(user, key, "same bytes").then(read)));

    const executed = responses.filter((r) => r.status === 200 && r.replayed === null);
    const replayed = responses.filter((r) => r.status === 200 && r.replayed === "true");
    const conflicts = responses.filter((r) => r.status === 409);
    expect(executed).toHaveLength(1);
    expect(replayed.length + conflicts.length).toBe(49);
    for (const r of replayed) expect(r.body).toEqual(executed[0]!.body);
    for (const r of conflicts) {
      expect(r.retryAfter).toBe("1");
      expect(r.body.error.json.data.code).toBe("CONFLICT");
      expect(r.body.error.json.message).toMatch(/still being processed: retry in 1 s/);
    }
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 10n });
  });
});

describe("same key, different input", () => {
  it("answers 422 UNPROCESSABLE_CONTENT saying so, and changes nothing", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    await upload(user, key, "original");
    const other = await read(await upload(user, key, "something else"));
    expect(other.status).toBe(422);
    expect(other.body.error.json.data.code).toBe("UNPROCESSABLE_CONTENT");
    expect(other.body.error.json.message).toBe(
      `The Idempotency-Key "${key}" was already used for a different request to files.upload: send a new key for a new request`,
    );
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 8n });
    // A different file name alone is a different request too.
    expect((await upload(user, key, "original", "renamed.txt")).status).toBe(422);
  });
});

describe("a request that is still running", () => {
  it("makes a second one with its key answer 409 + Retry-After; the first then completes once and is replayed", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const release = await holdUserRow(user);
    const first = upload(user, key, "slow").then(read);
    await waitUntil("the first request waits inside its transaction", someoneWaitsOnALock);
    expect(await record(user, "files.upload", key)).toMatchObject({ state: "in_progress" });

    const second = await read(await upload(user, key, "slow"));
    expect(second.status).toBe(409);
    expect(second.retryAfter).toBe("1");
    await release();
    expect((await first).status).toBe(200);
    const third = await read(await upload(user, key, "slow"));
    expect(third.replayed).toBe("true");
    expect(third.body).toEqual((await first).body);
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 4n });
  });

  it("if a lease runs out under a live request, the retry that takes over is the only execution that commits", async () => {
    // A lease shorter than the transaction timeout is refused by env.js; set here to force the race.
    const user = await app.createUser();
    const key = randomUUID();
    app.services.config.idempotency = { leaseMs: 100 };
    try {
      const release = await holdUserRow(user);
      const first = upload(user, key, "long").then(read);
      await waitUntil("the first request waits inside its transaction", someoneWaitsOnALock);
      await new Promise((r) => setTimeout(r, 300)); // well past the 100 ms lease
      const second = upload(user, key, "long").then(read);
      const waiting = async () => (await locker.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rowCount === 2;
      await waitUntil("the retry took the key over and waits too", waiting);
      await release();
      const [a, b] = [await first, await second];
      // The first one's completion no longer matches its claim: its writes roll back and it is told to retry.
      expect(a.status).toBe(409);
      expect(a.retryAfter).toBe("1");
      expect(b.status).toBe(200);
      expect(await effects(user)).toEqual({ files: 1, usedBytes: 4n });
      expect((await read(await upload(user, key, "long"))).body).toEqual(b.body);
    } finally {
      app.services.config.idempotency = undefined;
    }
  });
});

describe("malformed keys", () => {
  it.each([
    ["empty", "", /is empty/],
    ["longer than 255 characters", "k".repeat(256), /the limit is 255/],
    ["not printable ASCII", "caf\u00e9", /printable ASCII/],
  ])("a key that is %s gets 400 with the reason, and nothing executes", async (_label, key, message) => {
    const user = await app.createUser();
    const res = await read(await upload(user, key, "data"));
    expect(res.status).toBe(400);
    expect(res.body.error.json.message).toMatch(message);
    expect(await effects(user)).toEqual({ files: 0, usedBytes: 0n });
  });

  it("a control character in a key (possible in-process) gets BAD_REQUEST", async () => {
    const user = await app.createUser();
    const caller = createCaller(
      createInnerContext(app.services, user, { headers: new Headers({ "Idempotency-Key": "a\u0001b" }), resHeaders: new Headers() }),
    );
    const error = await caller.files.upload(uploadBody("x")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe("BAD_REQUEST");
    expect((error as TRPCError).message).toMatch(/printable ASCII characters; character 2/);
  });
});

describe("errors", () => {
  it("stores a deterministic domain error (quota full) and replays it even after the cause is gone", async () => {
    const user = await app.createUser({ quotaBytes: 4n });
    const key = randomUUID();
    const first = await read(await upload(user, key, "too big"));
    expect(first.status).toBe(413);
    expect(first.body.error.json.message).toMatch(/quota is full/);
    expect(await record(user, "files.upload", key)).toMatchObject({ state: "completed", responseStatus: 413 });

    await app.services.db.user.update({ where: { id: user.id }, data: { quotaBytes: 1000n } });
    const retry = await read(await upload(user, key, "too big"));
    expect(retry.status).toBe(413);
    expect(retry.replayed).toBe("true");
    expect(retry.body).toEqual(first.body);
    // A new key is a new request: now it fits.
    expect((await upload(user, randomUUID(), "too big")).status).toBe(200);
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 7n });
  });

  it("stores and replays a validation error with the same flattened zod errors", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const first = await read(await mutate("files.rename", user, key, { id: "not-a-uuid", name: "x" }));
    expect(first.status).toBe(400);
    expect(first.body.error.json.data.zodError.fieldErrors.id[0]).toMatch(/file id/);
    const retry = await read(await mutate("files.rename", user, key, { id: "not-a-uuid", name: "x" }));
    expect(retry.replayed).toBe("true");
    expect(retry.body).toEqual(first.body);
  });

  it("stores and replays NOT_FOUND", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const id = randomUUID();
    const first = await read(await mutate("files.delete", user, key, { id }));
    expect(first.status).toBe(404);
    const retry = await read(await mutate("files.delete", user, key, { id }));
    expect(retry.replayed).toBe("true");
    expect(retry.body).toEqual(first.body);
  });

  it("releases the key after an unexpected failure (5xx), so the retry executes, once", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    // A real storage failure: a regular file where the user's blob folder must be created.
    const blocker = path.join(app.storageDir, "files", user.id);
    await mkdir(path.dirname(blocker), { recursive: true });
    await writeFile(blocker, "in the way");
    const failed = await read(await upload(user, key, "payload"));
    expect(failed.status).toBe(500);
    expect(await record(user, "files.upload", key)).toBeNull();
    expect(await effects(user)).toEqual({ files: 0, usedBytes: 0n });

    await rm(blocker);
    const retry = await read(await upload(user, key, "payload"));
    expect(retry.status).toBe(200);
    expect(retry.replayed).toBeNull();
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 7n });
  });

  it("a mutation that outlives its transaction timeout commits nothing and releases its key", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    app.services.config.idempotency = { transactionTimeoutMs: 300 };
    try {
      const release = await holdUserRow(user);
      const pending = upload(user, key, "stuck").then(read);
      await waitUntil("the upload waits inside its transaction", someoneWaitsOnALock);
      await new Promise((r) => setTimeout(r, 600)); // past the 300 ms timeout
      await release();
      const res = await pending;
      expect(res.status).toBe(500);
      expect(await record(user, "files.upload", key)).toBeNull();
      expect(await effects(user)).toEqual({ files: 0, usedBytes: 0n });
    } finally {
      app.services.config.idempotency = undefined;
    }
    expect((await read(await upload(user, key, "stuck"))).status).toBe(200);
    expect(await effects(user)).toEqual({ files: 1, usedBytes: 5n });
  });

  it("does not store UNAUTHORIZED: after signing in, the same key executes", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const anonymous = await app.http("/api/trpc/files.upload", { method: "POST", body: uploadBody("z"), headers: { "Idempotency-Key": key } });
    expect(anonymous.status).toBe(401);
    expect(await app.services.db.idempotencyKey.count({ where: { key } })).toBe(0);
    expect((await read(await upload(user, key, "z"))).replayed).toBeNull();
  });
});

describe("scoping", () => {
  it("user B sending user A's key executes B's own request and never sees A's result", async () => {
    const a = await app.createUser();
    const b = await app.createUser();
    const key = randomUUID();
    const fromA = await read(await upload(a, key, "A's secret", "a.txt"));
    const fromB = await read(await upload(b, key, "A's secret", "a.txt"));
    expect(fromB.status).toBe(200);
    expect(fromB.replayed).toBeNull();
    expect(fromB.body.result.data.json.id).not.toBe(fromA.body.result.data.json.id);
    expect(await effects(a)).toEqual({ files: 1, usedBytes: 10n });
    expect(await effects(b)).toEqual({ files: 1, usedBytes: 10n });
  });

  it("one key used for two procedures is two records", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const file = (await read(await upload(user, key, "k"))).body.result.data.json;
    const renamed = await read(await mutate("files.rename", user, key, { id: file.id, name: "r.txt" }));
    expect(renamed.status).toBe(200);
    expect(renamed.replayed).toBeNull();
  });
});

describe("what is not idempotent", () => {
  it("auth.signIn opts out: a key is ignored and each sign-in sets a fresh cookie", async () => {
    const user = await app.createUser({ email: `in-${randomUUID().slice(0, 6)}@test.local`, password: "pw-123456" });
    const key = randomUUID();
    const signIn = () =>
      app.http("/api/trpc/auth.signIn", {
        method: "POST",
        headers: { "content-type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify({ json: { email: user.email, password: "pw-123456" } }),
      });
    for (const res of [await signIn(), await signIn()]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("idempotent-replayed")).toBeNull();
      expect(res.headers.get("set-cookie")).toMatch(/^metastore_session=/);
    }
    expect(await app.services.db.idempotencyKey.count({ where: { key } })).toBe(0);
  });

  it("queries ignore the header", async () => {
    const user = await app.createUser();
    const key = randomUUID();
    const res = await app.http(`/api/trpc/files.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, { user, headers: { "Idempotency-Key": key } });
    expect(res.status).toBe(200);
    expect(await app.services.db.idempotencyKey.count({ where: { key } })).toBe(0);
  });
});

describe("expiry and clean-up", () => {
  it("an expired record no longer replays: the key executes afresh (any input), and clean-up deletes expired records in batches", async () => {
    const user = await app.createUser();
    const keys = Array.from({ length: 5 }, () => randomUUID());
    for (const key of keys) await upload(user, key, "e");
    const live = randomUUID();
    await upload(user, live, "live");
    await app.services.db.idempotencyKey.updateMany({ where: { key: { in: keys } }, data: { expiresAt: new Date(Date.now() - 1000) } });

    const reused = await read(await upload(user, keys[0]!, "other input is fine now"));
    expect(reused.status).toBe(200);
    expect(reused.replayed).toBeNull();
    expect(await record(user, "files.upload", keys[0]!)).toMatchObject({ state: "completed" });

    const result = await deleteExpiredIdempotencyKeys(app.services.db, { batchSize: 2 });
    expect(result).toEqual({ deleted: 4, batches: 3 });
    expect(await app.services.db.idempotencyKey.count({ where: { key: { in: [...keys, live] } } })).toBe(2);
    expect(await deleteExpiredIdempotencyKeys(app.services.db, { batchSize: 2 })).toEqual({ deleted: 0, batches: 1 });
  });
});
