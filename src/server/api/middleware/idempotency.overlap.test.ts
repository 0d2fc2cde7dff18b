/**
 * The claim travels beside its mutation's BEGIN (on the side pool of platform/db/side-pool.ts):
 *  - with a main pool of ONE connection, concurrent keyed mutations still all complete (a claim
 *    never waits for a main-pool connection held by a transaction that waits for that claim);
 *  - a key this process has not seen (its record written by another process) whose claim answers
 *    409 or 422 rolls the speculative transaction back: nothing of the mutation is written.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { fingerprintInput } from "~/server/reliability/idempotency/fingerprint";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 64 * 1024, poolMax: 1 });
});
afterAll(() => app.close());

function upload(user: SessionUser, key: string, content: string) {
  const fd = new FormData();
  fd.append("file", new File([content], "note.txt", { type: "text/plain" }));
  return app.http("/api/trpc/files.upload", { method: "POST", body: fd, user, headers: { "Idempotency-Key": key } });
}

function rename(user: SessionUser, key: string, id: string, name: string) {
  return app.http("/api/trpc/files.rename", {
    method: "POST",
    body: JSON.stringify({ json: { id, name } }),
    user,
    headers: { "content-type": "application/json", "Idempotency-Key": key },
  });
}

/** A record of `key` as another process would have left it (this process never saw the key). */
async function foreignRecord(user: SessionUser, procedure: string, key: string, state: "in_progress" | "completed", fingerprint = "fingerprint-of-another-input") {
  await app.services.db.$executeRaw`
    INSERT INTO idempotency_key (id, scope, key, fingerprint, state, lease_until, claim_token, result, response_status, created_at, completed_at, expires_at)
    VALUES (gen_random_uuid(), ${`${user.id}:${procedure}`}, ${key}, ${fingerprint}, ${state}::"IdempotencyState",
            CASE WHEN ${state} = 'in_progress' THEN now() + interval '1 minute' END,
            CASE WHEN ${state} = 'in_progress' THEN gen_random_uuid() END,
            CASE WHEN ${state} = 'completed' THEN '{"json":{"type":"data","data":null}}'::jsonb END,
            CASE WHEN ${state} = 'completed' THEN 200 END,
            now(), CASE WHEN ${state} = 'completed' THEN now() END, now() + interval '1 day')`;
}

describe("the claim beside the transaction's BEGIN", () => {
  it("with a main pool of one connection, 12 concurrent keyed uploads all complete, each once", async () => {
    const user = await app.createUser();
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => upload(user, randomUUID(), `content ${i}`)));
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 12 }, () => 200));
    expect(await app.services.db.file.count({ where: { ownerId: user.id } })).toBe(12);
    expect(await app.services.db.idempotencyKey.count({ where: { scope: `${user.id}:files.upload`, state: "completed" } })).toBe(12);
  });

  it("a key another process holds in progress: 409 with Retry-After, and the rename is not written", async () => {
    const user = await app.createUser();
    const file = (await (await upload(user, randomUUID(), "x")).json()) as { result: { data: { json: { id: string } } } };
    const id = file.result.data.json.id;
    const key = randomUUID();
    await foreignRecord(user, "files.rename", key, "in_progress", await fingerprintInput({ id, name: "renamed.txt" }));
    const res = await rename(user, key, id, "renamed.txt");
    expect(res.status).toBe(409);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await app.services.db.file.findUniqueOrThrow({ where: { id }, select: { name: true } })).name).toBe("note.txt");
  });

  it("a key another process completed for another input: 422, and the rename is not written", async () => {
    const user = await app.createUser();
    const file = (await (await upload(user, randomUUID(), "x")).json()) as { result: { data: { json: { id: string } } } };
    const id = file.result.data.json.id;
    const key = randomUUID();
    await foreignRecord(user, "files.rename", key, "completed");
    const res = await rename(user, key, id, "renamed.txt");
    expect(res.status).toBe(422);
    expect((await app.services.db.file.findUniqueOrThrow({ where: { id }, select: { name: true } })).name).toBe("note.txt");
    // The speculative transaction rolled back and gave its connection back: the one-connection pool still serves.
    expect((await rename(user, randomUUID(), id, "renamed.txt")).status).toBe(200);
  });
});
