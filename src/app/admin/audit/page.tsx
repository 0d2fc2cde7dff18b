import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { PAGE_SIZE } from "../_components/types";
import { paramsOf } from "../_components/url-filter";
import { AuditView } from "./audit-view";
import { auditUrlFilter } from "./search-params";

export const dynamic = "force-dynamic";

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/audit");
  if (!user) return null;
  const search = auditUrlFilter.parse(paramsOf(await searchParams));
  await prefetch(trpc.admin.audit.search.infiniteQueryOptions({ ...search, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }));
  return (
    <HydrateClient>
      <AuditView />
    </HydrateClient>
  );
}
