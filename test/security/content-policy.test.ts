/**
 * Hole 4: both upload paths follow one content policy (decided by the bytes, not the declared type),
 * and a download is served with the detected type and nosniff. Through the real tRPC fetch handler
 * and the real download route handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { SESSION_COOKIE } from "~/server/auth/session";
import { createTestApp, type TestApp } from "../support/app";

let app: TestApp;
let alice: SessionUser;
let download: (req: Request, ctx: { params: Promise<{ id: string }> }) => Promise<Response>;

beforeAll(async () => {
  app = await createTestApp();
  alice = await app.createUser();
  // The download route reads the process's services: this test's app is that process's.
  (globalThis as { metastoreServices?: unknown }).metastoreServices = app.services;
  ({ GET: download } = await import("~/app/api/files/[id]/download/route"));
});
afterAll(async () => {
  delete (globalThis as { metastoreServices?: unknown }).metastoreServices;
  await app.close();
});

function form(bytes: Uint8Array | string, name: string, type: string) {
  const fd = new FormData();
  fd.append("file", new File([typeof bytes === "string" ? bytes : Buffer.from(bytes)], name, { type }));
  return fd;
}

const upload = (fd: FormData) => app.http("/api/trpc/files.upload", { method: "POST", body: fd, user: alice });

async function fetchDownload(id: string) {
  const sealed = await app.services.sessions.seal({ id: alice.id, sessionVersion: 0 });
  return download(new Request(`http://localhost/api/files/${id}/download?inline=1`, { headers: { cookie: `${SESSION_COOKIE}=${sealed}` } }), {
    params: Promise.resolve({ id }),
  });
}

describe("one content policy", () => {
  it("files.upload refuses an executable declared as an image (415), storing nothing", async () => {
    const exe = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(300, 1)]);
    const before = await app.services.db.file.count();
    const res = await upload(form(exe, "cat.png", "image/png"));
    expect(res.status).toBe(415);
    const body = (await res.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toMatch(/^Files of type application\/x-msdownload are not accepted/);
    expect(await app.services.db.file.count()).toBe(before);
  });

  it("stores HTML declared as text/html as what it is (text/plain) and downloads it as text/plain with nosniff", async () => {
    const res = await upload(form("<html><script>alert(document.cookie)</script></html>", "page.html", "text/html"));
    expect(res.status).toBe(200);
    const { result } = (await res.json()) as { result: { data: { json: { id: string } } } };
    const row = await app.services.db.file.findUniqueOrThrow({ where: { id: result.data.json.id } });
    expect(row.detectedType).toBe("text/plain");
    const got = await fetchDownload(row.id);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("text/plain");
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await got.text()).toContain("<script>");
  });

  it("serves a row whose type is not yet detected as opaque bytes, never as its declared type", async () => {
    const res = await upload(form("just text", "note.txt", "text/plain"));
    const { result } = (await res.json()) as { result: { data: { json: { id: string } } } };
    await app.services.db.file.update({ where: { id: result.data.json.id }, data: { detectedType: null, mimeType: "text/html" } });
    const got = await fetchDownload(result.data.json.id);
    expect(got.headers.get("content-type")).toBe("application/octet-stream");
  });
});
