import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { FleetView } from "./fleet-view";

export const dynamic = "force-dynamic";

export default async function FleetPage() {
  const user = await dashboardUser("/admin/fleet");
  if (!user) return null;
  await prefetch(trpc.admin.fleet.list.queryOptions());
  return (
    <HydrateClient>
      <FleetView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
