import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { BulkView } from "./bulk-view";

export const dynamic = "force-dynamic";

export default async function BulkPage() {
  const user = await dashboardUser("/admin/bulk");
  if (!user) return null;
  await prefetch(trpc.admin.bulk.list.queryOptions({}));
  return (
    <HydrateClient>
      <BulkView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
