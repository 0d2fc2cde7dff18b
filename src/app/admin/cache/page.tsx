import { HydrateClient, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { prefetchNow } from "../_components/prefetch";
import { CacheView } from "./cache-view";

export const dynamic = "force-dynamic";

export default async function CachePage() {
  const user = await dashboardUser("/admin/cache");
  if (!user) return null;
  await prefetchNow(
    trpc.admin.cache.stats.queryOptions(),
  );
  return (
    <HydrateClient>
      <CacheView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
