import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { OUTBOX_STATUSES, PAGE_SIZE, type OutboxFilter, type OutboxStatus } from "../_components/types";
import { OutboxView } from "./outbox-view";

export const dynamic = "force-dynamic";

type Search = Record<string, string | string[] | undefined>;

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim() || undefined;

/** Filters from the URL (links from the overview: ?status=failed, ?aggregateType=file&aggregateId=…). */
function filterFrom(search: Search): OutboxFilter {
  const statuses = [search.status ?? []].flat().flatMap((s) => s.split(","));
  const status = OUTBOX_STATUSES.filter((s): s is OutboxStatus => statuses.includes(s));
  const aggregateType = one(search.aggregateType);
  return {
    ...(status.length ? { status } : {}),
    ...(one(search.type) ? { type: one(search.type) } : {}),
    ...(aggregateType ? { aggregateType } : {}),
    ...(aggregateType && one(search.aggregateId) ? { aggregateId: one(search.aggregateId) } : {}),
    ...(one(search.error) ? { errorContains: one(search.error) } : {}),
    // A failure group's events (link from /admin/failures).
    ...(/^[0-9a-f]{32}$/.test(one(search.fingerprint) ?? "") ? { fingerprint: one(search.fingerprint) } : {}),
  };
}

export default async function OutboxPage({ searchParams }: { searchParams: Promise<Search> }) {
  const user = await dashboardUser("/admin/outbox");
  if (!user) return null;
  const filter = filterFrom(await searchParams);
  await prefetch(
    trpc.admin.outbox.list.infiniteQueryOptions({ filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  return (
    <HydrateClient>
      <OutboxView initialFilter={filter} canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
