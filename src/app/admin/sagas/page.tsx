import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { PAGE_SIZE } from "../_components/types";
import { paramsOf } from "../_components/url-filter";
import { sagaUrlFilter } from "./filter-params";
import { SagasView } from "./sagas-view";

export const dynamic = "force-dynamic";

export default async function SagasPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/sagas");
  if (!user) return null;
  const filter = sagaUrlFilter.parse(paramsOf(await searchParams));
  await prefetch(trpc.admin.sagas.list.infiniteQueryOptions({ ...filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }));
  return (
    <HydrateClient>
      <SagasView />
    </HydrateClient>
  );
}
