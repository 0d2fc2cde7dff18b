import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { PAGE_SIZE } from "../_components/types";
import { paramsOf } from "../_components/url-filter";
import { outboxUrlFilter } from "./filter-params";
import { OutboxView } from "./outbox-view";

export const dynamic = "force-dynamic";

export default async function OutboxPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/outbox");
  if (!user) return null;
  // The same filter the view reads from the URL: the prefetched page is the view's first page.
  const filter = outboxUrlFilter.parse(paramsOf(await searchParams));
  await prefetch(trpc.admin.outbox.list.infiniteQueryOptions({ filter, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }));
  return (
    <HydrateClient>
      <OutboxView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
