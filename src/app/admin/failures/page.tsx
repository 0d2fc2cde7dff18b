import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../_components/access";
import { paramsOf } from "../_components/url-filter";
import { failuresUrlFilter, groupsInput } from "./filter-params";
import { FailuresView } from "./failures-view";

export const dynamic = "force-dynamic";

export default async function FailuresPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await dashboardUser("/admin/failures");
  if (!user) return null;
  await prefetch(trpc.admin.failures.groups.queryOptions(groupsInput(failuresUrlFilter.parse(paramsOf(await searchParams)))));
  return (
    <HydrateClient>
      <FailuresView canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
