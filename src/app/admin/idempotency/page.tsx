import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { RECORDS_PAGE } from "../_components/types";
import { paramsOf } from "../_components/url-filter";
import { idempotencyUrlFilter, recordsSearch, statsInput } from "./filter-params";
import { IdempotencyView } from "./idempotency-view";

export const dynamic = "force-dynamic";

export default async function IdempotencyPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/idempotency");
  if (!user) return null;
  const filter = idempotencyUrlFilter.parse(paramsOf(await searchParams));
  await prefetch(
    trpc.admin.idempotency.stats.queryOptions(statsInput(filter)),
    trpc.admin.idempotency.records.infiniteQueryOptions({ ...recordsSearch(filter), limit: RECORDS_PAGE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  return (
    <HydrateClient>
      <IdempotencyView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
