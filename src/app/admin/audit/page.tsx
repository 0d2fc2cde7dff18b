import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { PAGE_SIZE } from "../_components/types";
import { AuditView } from "./audit-view";
import { auditSearchFrom, type AuditSearch } from "./search-params";

export const dynamic = "force-dynamic";

type Search = Record<string, string | string[] | undefined>;

export default async function AuditPage({ searchParams }: { searchParams: Promise<Search> }) {
  const user = await dashboardUser("/admin/audit");
  if (!user) return null;
  const params = new URLSearchParams(Object.entries(await searchParams).flatMap(([k, v]) => [v ?? []].flat().map((x) => [k, x] as [string, string])));
  const search: AuditSearch = auditSearchFrom(params);
  await prefetch(trpc.admin.audit.search.infiniteQueryOptions({ ...search, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }));
  return (
    <HydrateClient>
      <AuditView initialSearch={search} />
    </HydrateClient>
  );
}
