import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { CacheView } from "./cache-view";

export const dynamic = "force-dynamic";

export default async function CachePage() {
  const user = await dashboardUser("/admin/cache");
  if (!user) return null;
  await prefetch(
    trpc.admin.cache.stats.queryOptions(),
  );
  return (
    <HydrateClient>
      <CacheView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
