import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { RECORDS_PAGE } from "../_components/types";
import { IdempotencyView } from "./idempotency-view";

export const dynamic = "force-dynamic";

export default async function IdempotencyPage({ searchParams }: { searchParams: Promise<{ key?: string | string[] }> }) {
  const user = await dashboardUser("/admin/idempotency");
  if (!user) return null;
  // ?key=…: the records of one key (a link from the console search); the records query bounds it.
  const requested = [(await searchParams).key ?? []].flat()[0]?.trim();
  const key = requested && requested.length <= 255 ? requested : undefined;
  await prefetch(
    trpc.admin.idempotency.stats.queryOptions({}),
    trpc.admin.idempotency.records.infiniteQueryOptions({ ...(key ? { key } : {}), limit: RECORDS_PAGE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  return (
    <HydrateClient>
      <IdempotencyView canAct={user.role === "operator"} initialKey={key} />
    </HydrateClient>
  );
}
