/**
 * The set-up feature tests share: one real test app for the file (see app.ts) and one user who
 * owns what the tests create. Registers its own beforeAll/afterAll; read the fields inside tests.
 *
 *   const fixture = setUpAppWithOwner();
 *   it("…", async () => { await fixture.app.caller(fixture.owner).files.upload(…); });
 */
import { afterAll, beforeAll } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "./app";

export interface AppWithOwner {
  readonly app: TestApp;
  readonly owner: SessionUser;
}

export function setUpAppWithOwner(options?: Parameters<typeof createTestApp>[0]): AppWithOwner {
  let app: TestApp | undefined;
  let owner: SessionUser | undefined;
  beforeAll(async () => {
    app = await createTestApp(options);
    owner = await app.createUser();
  });
  afterAll(() => app?.close());
  const before = (what: string) => new Error(`${what} is set up in beforeAll: read it inside a test or hook`);
  return {
    get app() {
      if (!app) throw before("app");
      return app;
    },
    get owner() {
      if (!owner) throw before("owner");
      return owner;
    },
  };
}
