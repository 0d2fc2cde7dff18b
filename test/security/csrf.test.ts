/**
 * Hole 7: mutations from another origin are refused (403) whatever cookies come along, checked on
 * Sec-Fetch-Site and Origin, through the real tRPC fetch handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "../support/app";

let app: TestApp;
let configured: TestApp;
let alice: SessionUser;
let carol: SessionUser;

beforeAll(async () => {
  app = await createTestApp(); // no APP_ORIGIN: the origin the request was sent to (development)
  configured = await createTestApp({ appOrigin: "https://metastore.example.com" });
  alice = await app.createUser();
  carol = await configured.createUser();
});
afterAll(async () => {
  await app.close();
  await configured.close();
});

function uploadForm(text = "planted by another site") {
  const fd = new FormData();
  fd.append("file", new File([text], "planted.txt", { type: "text/plain" }));
  return fd;
}

const upload = (target: TestApp, user: SessionUser, headers: Record<string, string>) =>
  target.http("/api/trpc/files.upload", { method: "POST", body: uploadForm(), headers, user });

describe("cross-site mutations", () => {
  it.each([
    ["a sibling subdomain (Sec-Fetch-Site: same-site)", { "sec-fetch-site": "same-site", origin: "http://evil.localhost" }],
    ["another site (Sec-Fetch-Site: cross-site)", { "sec-fetch-site": "cross-site", origin: "https://evil.example" }],
    ["another origin, older browser (Origin only)", { origin: "https://evil.example" }],
    ["an opaque origin (sandboxed frame)", { origin: "null" }],
  ])("refuses a multipart upload from %s with 403 and stores nothing", async (_label, headers) => {
    const before = await app.services.db.file.count();
    const res = await upload(app, alice, headers);
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { json: { message: string; data: { code: string } } } };
    expect(body.error.json.data.code).toBe("FORBIDDEN");
    expect(body.error.json.message).toMatch(/may not change anything here/);
    expect(await app.services.db.file.count()).toBe(before);
  });

  it("refuses cross-site sign-in and sign-out too (login CSRF)", async () => {
    const signIn = await app.http("/api/trpc/auth.signIn", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ json: { email: "x@test.local", password: "whatever" } }),
    });
    expect(signIn.status).toBe(403);
    expect(signIn.headers.get("set-cookie")).toBeNull();
    const signOut = await app.http("/api/trpc/auth.signOut", { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "cross-site" }, user: alice });
    expect(signOut.status).toBe(403);
  });

  it("accepts the app's own pages (same-origin) and non-browser clients (no Origin, no Sec-Fetch-Site)", async () => {
    expect((await upload(app, alice, { "sec-fetch-site": "same-origin", origin: "http://localhost" })).status).toBe(200);
    expect((await upload(app, alice, { origin: "http://localhost" })).status).toBe(200);
    expect((await upload(app, alice, {})).status).toBe(200);
  });

  it("queries (GET) are not mutations and stay readable from the app", async () => {
    const res = await app.http("/api/trpc/files.list", { headers: { "sec-fetch-site": "cross-site" }, user: alice });
    expect(res.status).toBe(200);
  });

  it("with APP_ORIGIN set, only that origin may mutate, whatever Host the request carries", async () => {
    expect((await upload(configured, carol, { origin: "https://metastore.example.com" })).status).toBe(200);
    expect((await upload(configured, carol, { origin: "http://localhost" })).status).toBe(403);
    expect((await upload(configured, carol, { origin: "https://evil.example", "x-forwarded-host": "evil.example" })).status).toBe(403);
  });
});
