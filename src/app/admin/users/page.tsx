import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { UsersView } from "./users-view";

export const dynamic = "force-dynamic";

export default async function UsersPage() {
  const user = await dashboardUser("/admin/users");
  if (!user) return null;
  await prefetch(trpc.admin.users.list.queryOptions({}));
  return (
    <HydrateClient>
      <UsersView canAct={user.role === "operator"} selfId={user.id} />
    </HydrateClient>
  );
}
