/**
 * What the fuzz suite (test/fuzz) found, pinned as plain regression tests through the real tRPC
 * fetch handler: each of these answered 500 (or hung) before its fix, and must be a clear 4xx
 * (or no session) that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
let user: SessionUser;
let viewer: SessionUser;
let fileId: string;
beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 64 * 1024 });
  user = await app.createUser();
  viewer = await app.createUser({ role: "viewer" });
  const fd = new FormData();
  fd.append("file", new File(["x"], "keep.txt", { type: "text/plain" }));
  fileId = (await app.caller(user).files.upload(fd)).id;
});
afterAll(() => app.close());

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function post(path: string, body: string, who: SessionUser | undefined = user) {
  const res = await app.http(`/api/trpc/${path}`, { method: "POST", body, user: who, headers: { "content-type": "application/json" } });
  return { status: res.status, body: (await res.json()) as Json };
}
async function get(path: string, input: string, who: SessionUser | null = user, headers: Record<string, string> = {}) {
  const res = await app.http(`/api/trpc/${path}?input=${encodeURIComponent(input)}`, { user: who ?? undefined, headers });
  return { status: res.status, body: (await res.json()) as Json };
}
const fileName = async () => (await app.services.db.file.findUniqueOrThrow({ where: { id: fileId } })).name;

describe("hostile inputs get a 400 that says why", () => {
  it.each(["__proto__", "constructor", "prototype"])("a %s key, at any depth", async (key) => {
    const res = await post("files.rename", `{"json":{"id":"${fileId}","name":"new.txt","${key}":{"isAdmin":true}}}`);
    expect(res.status).toBe(400);
    expect(res.body.error.json.message).toBe(`Invalid input: input has a key named "${key}", which is not accepted: rename or remove it`);
    const nested = await get("admin.outbox.list", `{"json":{"filter":{"${key}":{"polluted":true}}}}`, viewer);
    expect(nested.status).toBe(400);
    expect(await fileName()).toBe("keep.txt");
  });

  it("a prototype path in superjson's meta (superjson refuses it)", async () => {
    const res = await get("files.list", `{"json":{"a":1},"meta":{"values":{"constructor.polluted":["Date"]}}}`);
    expect(res.status).toBe(400);
    expect(res.body.error.json.message).toBe("The input could not be decoded: constructor is not allowed as a property");
  });

  it("nesting deeper than any input of the API, as JSON text 100 000 levels deep", async () => {
    const res = await post("files.rename", `{"json":{"id":"${fileId}","name":${"[".repeat(100_000)}1${"]".repeat(100_000)}}}`);
    expect(res.status).toBe(400);
    expect(res.body.error.json.message).toMatch(/^Invalid input: input\.name(\.0)+ is nested more than 20 levels deep; no input of this API is$/);
  });

  it("a NUL character, which PostgreSQL text cannot hold", async () => {
    const res = await get("admin.sagas.list", JSON.stringify({ json: { type: "file\u0000upload" } }), viewer);
    expect(res.status).toBe(400);
    expect(res.body.error.json.message).toBe("Invalid input: input.type contains a NUL character (\\u0000), which text here cannot hold: remove it");
  });

  it("an upload whose declared content type is longer than any content type", async () => {
    const fd = new FormData();
    fd.append("file", new File(["abc"], "a.txt", { type: "a".repeat(300) }));
    const res = await app.http("/api/trpc/files.upload", { method: "POST", body: fd, user });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).error.json.message).toMatch(/content type is 300 characters long; a content type is at most 255/);
    expect(await app.services.db.file.count({ where: { ownerId: user.id } })).toBe(1);
  });

  it("an upload with a file name of 50 000 characters is stored under a 255-byte name", async () => {
    const fd = new FormData();
    fd.append("file", new File(["abc"], `${"n".repeat(50_000)}.txt`, { type: "text/plain" }));
    const res = await app.http("/api/trpc/files.upload", { method: "POST", body: fd, user });
    expect(res.status).toBe(200);
    const name = ((await res.json()) as Json).result.data.json.name as string;
    expect(name.length).toBe(255);
    expect(name.endsWith(".txt")).toBe(true);
  });
});

describe("the input checks do not read a body the size guard must refuse first", () => {
  it("an upload declaring 10 MiB gets 413 from its Content-Length; not a byte of the body is read", async () => {
    let read = false;
    const body = new ReadableStream(
      {
        pull() {
          read = true;
          throw new Error("the body was read");
        },
      },
      { highWaterMark: 0 },
    );
    const res = await app.http("/api/trpc/files.upload", {
      method: "POST",
      body,
      duplex: "half",
      user,
      headers: { "content-type": "multipart/form-data; boundary=x", "content-length": String(10 * 1024 * 1024) },
    } as RequestInit & { duplex: "half" });
    expect(res.status).toBe(413);
    expect(read).toBe(false);
  });
});

describe("a session cookie that is not even valid percent-encoding", () => {
  it.each(["%E0%A4%A", "%", "%C0%80"])("%s is no session (401 where one is needed), not a 500", async (value) => {
    const headers = { cookie: `metastore_session=${value}` };
    expect((await get("auth.me", "", null, headers)).body).toEqual({ result: { data: { json: null } } });
    const res = await get("files.list", JSON.stringify({ json: {} }), null, headers);
    expect(res.status).toBe(401);
  });
});
