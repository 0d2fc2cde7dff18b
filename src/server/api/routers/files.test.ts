import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { expectTRPCError } from "~test/support/trpc-error";

let app: TestApp;
let alice: SessionUser;
let bob: SessionUser;

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 1024 });
  alice = await app.createUser();
  bob = await app.createUser();
});
afterAll(() => app.close());

function form(content: string | Uint8Array, name = "hello.txt", type = "text/plain", tags: string[] = []) {
  const fd = new FormData();
  fd.append("file", new File([typeof content === "string" ? content : Buffer.from(content)], name, { type }));
  for (const tag of tags) fd.append("tags", tag);
  return fd;
}

async function blobCount() {
  const walk = async (dir: string): Promise<number> => {
    let n = 0;
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      n += entry.isDirectory() ? await walk(path.join(dir, entry.name)) : 1;
    }
    return n;
  };
  return walk(app.storageDir);
}

const rowCounts = async () => ({
  files: await app.services.db.file.count(),
  used: (await app.services.db.user.findMany({ select: { usedBytes: true } })).reduce((s, u) => s + u.usedBytes, 0n),
});

describe("files.upload", () => {
  it("stores the bytes and the record, sanitises the name, normalises tags and charges the quota", async () => {
    const file = await app.caller(alice).files.upload(form("hello world", "../../etc/pass\u0000wd.txt", "text/plain", ["Work", "work", " draft "]));
    expect(file.name).toBe("pass_wd.txt");
    expect(file.sizeBytes).toBe(11);
    expect(file.tags).toEqual(["work", "draft"]);
    const row = await app.services.db.file.findUniqueOrThrow({ where: { id: file.id } });
    expect(await app.services.storage.readAll(row.storageKey)).toEqual(Buffer.from("hello world"));
    const owner = await app.services.db.user.findUniqueOrThrow({ where: { id: alice.id } });
    expect(owner.usedBytes).toBe(11n);
  });

  it.each([
    ["an empty file", () => form(""), "BAD_REQUEST", /empty/],
    ["a file over the size limit", () => form("x".repeat(1025)), "PAYLOAD_TOO_LARGE", /limit is 1024 bytes/],
    ["a name with no usable characters", () => form("abc", "...", "text/plain"), "BAD_REQUEST", /not a usable file name/],
    ["a tag with forbidden characters", () => form("abc", "a.txt", "text/plain", ["<script>"]), "BAD_REQUEST", /tag may contain/],
    ["a form without a file part", () => new FormData(), "BAD_REQUEST", /needs a `file` part/],
  ] as const)("rejects %s and leaves no record and no blob", async (_label, makeForm, code, message) => {
    const before = { ...(await rowCounts()), blobs: await blobCount() };
    await expectTRPCError(app.caller(alice).files.upload(makeForm()), code, message);
    expect({ ...(await rowCounts()), blobs: await blobCount() }).toEqual(before);
  });

  it("rejects an upload over the quota with no record, no blob and the quota unchanged", async () => {
    const small = await app.createUser({ quotaBytes: 10n });
    const before = { ...(await rowCounts()), blobs: await blobCount() };
    await expectTRPCError(app.caller(small).files.upload(form("more than ten bytes")), "PAYLOAD_TOO_LARGE", /quota/);
    expect({ ...(await rowCounts()), blobs: await blobCount() }).toEqual(before);
  });

  it("answers UNAUTHORIZED without a session", async () => {
    await expectTRPCError(app.caller(null).files.upload(form("abc")), "UNAUTHORIZED", /sign in/);
  });
});

describe("files.list", () => {
  it("pages with a keyset cursor, newest first, without duplicates or gaps", async () => {
    const carol = await app.createUser();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await app.caller(carol).files.upload(form(`file ${i}`, `f${i}.txt`))).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await app.caller(carol).files.list({ limit: 2, cursor });
      seen.push(...page.items.map((f) => f.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it("shows only the caller's live files and filters by name, type and tag", async () => {
    const dave = await app.createUser();
    const c = app.caller(dave);
    await c.files.upload(form("a", "Report.pdf", "application/pdf", ["q1"]));
    await c.files.upload(form("b", "photo.png", "image/png", ["q1", "family"]));
    const gone = await c.files.upload(form("c", "old-report.txt", "text/plain"));
    await c.files.delete({ id: gone.id });
    await app.caller(alice).files.upload(form("x", "report-of-alice.txt"));

    const names = async (input: Parameters<typeof c.files.list>[0]) => (await c.files.list(input)).items.map((f) => f.name).sort();
    expect(await names({})).toEqual(["Report.pdf", "photo.png"]);
    expect(await names({ name: "report" })).toEqual(["Report.pdf"]);
    expect(await names({ type: "image/" })).toEqual(["photo.png"]);
    expect(await names({ type: "application/pdf" })).toEqual(["Report.pdf"]);
    expect(await names({ tag: "FAMILY" })).toEqual(["photo.png"]);
  });

  it("rejects a cursor that was not issued by the server, and bad filter values", async () => {
    await expectTRPCError(app.caller(alice).files.list({ cursor: "not-a-cursor" }), "BAD_REQUEST", /cursor is not valid/);
    await expectTRPCError(app.caller(alice).files.list({ limit: 1000 }), "BAD_REQUEST", /limit/);
    await expectTRPCError(app.caller(alice).files.list({ type: "png" }), "BAD_REQUEST", /MIME type/);
  });
});

describe("one file: get, rename, setTags, delete", () => {
  it("renames (sanitised) and retags the caller's file", async () => {
    const f = await app.caller(alice).files.upload(form("abc", "a.txt"));
    expect((await app.caller(alice).files.rename({ id: f.id, name: "  sub/dir\\Final report.txt " })).name).toBe("Final report.txt");
    expect((await app.caller(alice).files.setTags({ id: f.id, tags: ["B", "a", "b"] })).tags).toEqual(["b", "a"]);
    expect(await app.caller(alice).files.get({ id: f.id })).toMatchObject({ name: "Final report.txt", tags: ["b", "a"] });
  });

  it("treats someone else's file as not found for every operation and changes nothing", async () => {
    const f = await app.caller(alice).files.upload(form("secret", "secret.txt"));
    const asBob = app.caller(bob);
    await expectTRPCError(asBob.files.get({ id: f.id }), "NOT_FOUND", /not found/);
    await expectTRPCError(asBob.files.rename({ id: f.id, name: "mine.txt" }), "NOT_FOUND");
    await expectTRPCError(asBob.files.setTags({ id: f.id, tags: ["x"] }), "NOT_FOUND");
    await expectTRPCError(asBob.files.delete({ id: f.id }), "NOT_FOUND");
    expect(await app.caller(alice).files.get({ id: f.id })).toMatchObject({ name: "secret.txt", tags: [], status: "active" });
  });

  it("soft-deletes: the record stays, the file disappears, the quota is released, later calls say it was deleted", async () => {
    const erin = await app.createUser();
    const f = await app.caller(erin).files.upload(form("12345", "five.txt"));
    await app.caller(erin).files.delete({ id: f.id });
    const row = await app.services.db.file.findUniqueOrThrow({ where: { id: f.id } });
    expect(row.status).toBe("deleted");
    expect(row.deletedAt).toBeInstanceOf(Date);
    expect((await app.services.db.user.findUniqueOrThrow({ where: { id: erin.id } })).usedBytes).toBe(0n);
    await expectTRPCError(app.caller(erin).files.get({ id: f.id }), "NOT_FOUND", /has been deleted/);
    await expectTRPCError(app.caller(erin).files.delete({ id: f.id }), "NOT_FOUND", /has been deleted/);
    await expectTRPCError(app.caller(erin).files.rename({ id: f.id, name: "x.txt" }), "NOT_FOUND", /has been deleted/);
  });

  it("rejects malformed ids and names with BAD_REQUEST and a readable message", async () => {
    await expectTRPCError(app.caller(alice).files.get({ id: "123" }), "BAD_REQUEST", /file id/);
    const f = await app.caller(alice).files.upload(form("abc", "keep.txt"));
    await expectTRPCError(app.caller(alice).files.rename({ id: f.id, name: "" }), "BAD_REQUEST", /cannot be empty/);
    await expectTRPCError(app.caller(alice).files.rename({ id: f.id, name: "///" }), "BAD_REQUEST", /not a usable file name/);
    expect((await app.caller(alice).files.get({ id: f.id })).name).toBe("keep.txt");
  });
});

describe("over HTTP (the fetch adapter Next.js serves)", () => {
  it("uploads multipart form data and lists it with superjson dates", async () => {
    const res = await app.http("/api/trpc/files.upload", { method: "POST", body: form("via http", "http.txt"), user: alice });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { json: { name: string } } } };
    expect(body.result.data.json.name).toBe("http.txt");
    const list = await app.http(`/api/trpc/files.list?input=${encodeURIComponent(JSON.stringify({ json: { name: "http.txt" } }))}`, { user: alice });
    expect(list.status).toBe(200);
    const listed = (await list.json()) as { result: { data: { json: { items: Array<{ name: string }> }; meta: unknown } } };
    expect(listed.result.data.json.items.map((i) => i.name)).toEqual(["http.txt"]);
  });

  it("answers 413 from Content-Length before reading an oversize body", async () => {
    const fd = form("y".repeat(200_000), "big.bin");
    const before = await rowCounts();
    const res = await app.http("/api/trpc/files.upload", { method: "POST", body: fd, user: alice });
    expect(res.status).toBe(413);
    expect(await rowCounts()).toEqual(before);
  });

  it("answers 401 without a cookie, 400 with zod's flattened errors for bad input", async () => {
    expect((await app.http("/api/trpc/files.list")).status).toBe(401);
    const res = await app.http(`/api/trpc/files.get?input=${encodeURIComponent(JSON.stringify({ json: { id: "nope" } }))}`, { user: alice });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { json: { message: string; data: { zodError: { fieldErrors: Record<string, string[]> } } } } };
    expect(body.error.json.data.zodError.fieldErrors.id?.[0]).toMatch(/file id/);
    expect(body.error.json.message).toMatch(/Invalid input/);
  });

  it("signs in with an http-only cookie and refuses a wrong password with 401", async () => {
    const user = await app.createUser({ email: "frank@test.local", password: "right-password" });
    const ok = await app.http("/api/trpc/auth.signIn", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { email: "FRANK@test.local", password: "right-password" } }),
    });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^metastore_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
    const me = await app.http("/api/trpc/auth.me", { headers: { cookie: cookie.split(";")[0]! } });
    expect(((await me.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id).toBe(user.id);
    const bad = await app.http("/api/trpc/auth.signIn", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { email: "frank@test.local", password: "wrong" } }),
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();
  });

  it("signOutEverywhere revokes every cookie of the user, not other users'", async () => {
    const user = await app.createUser();
    const other = await app.createUser();
    expect((await app.http("/api/trpc/files.list", { user })).status).toBe(200);
    const res = await app.http("/api/trpc/auth.signOutEverywhere", { method: "POST", user, headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/^metastore_session=; .*Max-Age=0/);
    expect((await app.http("/api/trpc/files.list", { user })).status).toBe(401);
    expect((await app.http("/api/trpc/files.list", { user: other })).status).toBe(200);
  });

  it("ignores a tampered or revoked session cookie", async () => {
    const user = await app.createUser();
    const res = await app.http("/api/trpc/auth.me", { user });
    expect(((await res.json()) as { result: { data: { json: unknown } } }).result.data.json).toMatchObject({ id: user.id });
    const tampered = await app.http("/api/trpc/files.list", { headers: { cookie: "metastore_session=Fe26.2**garbage" } });
    expect(tampered.status).toBe(401);
    await app.services.db.user.update({ where: { id: user.id }, data: { sessionVersion: { increment: 1 } } });
    expect((await app.http("/api/trpc/files.list", { user })).status).toBe(401);
  });
});
