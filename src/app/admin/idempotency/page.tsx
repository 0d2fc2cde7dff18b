import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { RECORDS_PAGE } from "../_components/types";
import { IdempotencyView } from "./idempotency-view";

export const dynamic = "force-dynamic";

export default async function IdempotencyPage() {
  const user = await dashboardUser("/admin/idempotency");
  if (!user) return null;
  await prefetch(
    trpc.admin.idempotency.stats.queryOptions({}),
    trpc.admin.idempotency.records.infiniteQueryOptions({ limit: RECORDS_PAGE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  return (
    <HydrateClient>
      <IdempotencyView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
