import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { BulkView } from "./bulk-view";
import { bulkPrefillFrom } from "./links";

export const dynamic = "force-dynamic";

export default async function BulkPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/bulk");
  if (!user) return null;
  const prefill = bulkPrefillFrom(await searchParams);
  await prefetch(trpc.admin.bulk.list.queryOptions({}));
  return (
    <HydrateClient>
      <BulkView canAct={user.role === "operator"} initialTarget={prefill.target} initialSagaFilter={prefill.sagaFilter} />
    </HydrateClient>
  );
}
