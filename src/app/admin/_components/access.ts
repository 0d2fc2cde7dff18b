import "server-only";

import { redirect } from "next/navigation";
import { getSessionUser } from "~/trpc/server";

/**
 * The dashboard's gate for a page: signed-out visitors go to sign-in (and come back here after),
 * plain users get null (the admin layout shows them the not-allowed message). The procedures
 * check roles again on every call; this only decides what the page renders.
 */
export async function dashboardUser(next: string) {
  const user = await getSessionUser();
  if (!user) redirect(`/signin?next=${next}`);
  return user.role === "viewer" || user.role === "operator" ? user : null;
}
