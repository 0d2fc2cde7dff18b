import type { SessionUser } from "~/server/auth/session";
import type { TestApp } from "./app";

export interface UsersOfEachRole {
  operator: SessionUser;
  viewer: SessionUser;
  user: SessionUser;
}

/** One signed-up user of each role, for tests of who may read and who may act (admin routers). */
export async function createUsersOfEachRole(app: TestApp): Promise<UsersOfEachRole> {
  const operator = await app.createUser({ role: "operator" });
  const viewer = await app.createUser({ role: "viewer" });
  const user = await app.createUser();
  return { operator, viewer, user };
}
