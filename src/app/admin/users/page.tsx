import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { paramsOf } from "../_components/url-filter";
import { usersUrlFilter } from "./filter-params";
import { UsersView } from "./users-view";

export const dynamic = "force-dynamic";

export default async function UsersPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/users");
  if (!user) return null;
  // The same parse as the view's: same input, same cache key, so the list shows without a refetch.
  await prefetch(trpc.admin.users.list.queryOptions(usersUrlFilter.parse(paramsOf(await searchParams))));
  return (
    <HydrateClient>
      <UsersView canAct={user.role === "operator"} selfId={user.id} />
    </HydrateClient>
  );
}
