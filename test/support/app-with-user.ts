import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "./app";

/** A test app and one signed-up user (role "user"): the set-up of tests that act as one caller. */
export async function createTestAppWithUser(opts?: Parameters<typeof createTestApp>[0]): Promise<{ app: TestApp; user: SessionUser }> {
  const app = await createTestApp(opts);
  return { app, user: await app.createUser() };
}
