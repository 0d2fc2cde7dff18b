import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { UsersView } from "./users-view";

export const dynamic = "force-dynamic";

export default async function UsersPage({ searchParams }: { searchParams: Promise<{ query?: string | string[] }> }) {
  const user = await dashboardUser("/admin/users");
  if (!user) return null;
  // ?query=…: the list filtered (a link from the console search); the list query bounds it.
  const requested = [(await searchParams).query ?? []].flat()[0]?.trim();
  const query = requested && requested.length <= 200 ? requested : "";
  await prefetch(trpc.admin.users.list.queryOptions(query ? { query } : {}));
  return (
    <HydrateClient>
      <UsersView canAct={user.role === "operator"} selfId={user.id} initialQuery={query} />
    </HydrateClient>
  );
}
