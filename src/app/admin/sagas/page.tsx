import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { PAGE_SIZE, SAGA_STATUSES, type SagaListInput, type SagaStatus } from "../_components/types";
import { SagasView, type SagaFilter } from "./sagas-view";

export const dynamic = "force-dynamic";

type Search = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim() || undefined;

function filterFrom(search: Search): SagaFilter {
  const statuses = [search.status ?? []].flat().flatMap((s) => s.split(","));
  const status = SAGA_STATUSES.filter((s): s is SagaStatus => statuses.includes(s));
  return {
    ...(status.length ? { status } : {}),
    ...(one(search.type) ? { type: one(search.type) } : {}),
    ...(one(search.correlationId) ? { correlationId: one(search.correlationId) } : {}),
    ...(one(search.error) ? { error: one(search.error) } : {}),
  };
}

export default async function SagasPage({ searchParams }: { searchParams: Promise<Search> }) {
  const user = await dashboardUser("/admin/sagas");
  if (!user) return null;
  const filter = filterFrom(await searchParams);
  const input: SagaListInput = { ...filter, limit: PAGE_SIZE };
  await prefetch(
    trpc.admin.sagas.list.infiniteQueryOptions(input, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  return (
    <HydrateClient>
      <SagasView initialFilter={filter} />
    </HydrateClient>
  );
}
