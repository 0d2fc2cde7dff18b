import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { FailuresView } from "./failures-view";

export const dynamic = "force-dynamic";

export default async function FailuresPage() {
  const user = await dashboardUser("/admin/failures");
  if (!user) return null;
  await prefetch(trpc.admin.failures.groups.queryOptions({}));
  return (
    <HydrateClient>
      <FailuresView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
