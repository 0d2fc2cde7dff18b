/**
 * Issue 11, hole 10: files.get of a file asked for by its id in upper case (a valid UUID) must be
 * invalidated by a change of that file like any other read. Real router, query cache and Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { fileTags } from "./cache-tags";

let app: TestApp;
let alice: SessionUser;
beforeAll(async () => {
  app = await createTestApp();
  alice = await app.createUser();
});
afterAll(() => app.close());

function form(content: string, name: string) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  return fd;
}

describe("file cache tags", () => {
  it("a file's tag is the same whatever the case of its id", () => {
    expect(fileTags.file("0A1B2C3D-0000-4000-8000-00000000ABCD")).toBe(fileTags.file("0a1b2c3d-0000-4000-8000-00000000abcd"));
  });

  it("files.get by an upper-case id is invalidated by a rename and by a delete", async () => {
    const file = await app.caller(alice).files.upload(form("x", "before.txt"));
    const upper = file.id.toUpperCase();
    expect((await app.caller(alice).files.get({ id: upper })).name).toBe("before.txt"); // cached now
    await app.caller(alice).files.rename({ id: file.id, name: "after.txt" });
    expect((await app.caller(alice).files.get({ id: upper })).name).toBe("after.txt");
    await app.caller(alice).files.rename({ id: upper, name: "again.txt" });
    expect((await app.caller(alice).files.get({ id: file.id })).name).toBe("again.txt");
    await app.caller(alice).files.delete({ id: file.id });
    await expect(app.caller(alice).files.get({ id: upper })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
