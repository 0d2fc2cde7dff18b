import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "./_components/access";
import { overviewInputs } from "./_components/types";
import { OverviewView } from "./overview-view";

export const dynamic = "force-dynamic";

export default async function AdminOverviewPage() {
  const user = await dashboardUser("/admin");
  if (!user) return null; // the layout shows the not-allowed message
  await prefetch(
    trpc.admin.outbox.stats.queryOptions(overviewInputs.outboxStats),
    trpc.admin.outbox.blocked.queryOptions(overviewInputs.blocked),
    trpc.admin.sagas.metrics.queryOptions(overviewInputs.sagaMetrics),
    trpc.admin.idempotency.stats.queryOptions(overviewInputs.idempotencyStats),
    trpc.admin.cache.stats.queryOptions(),
    trpc.admin.failures.groups.queryOptions(overviewInputs.failureGroups),
  );
  return (
    <HydrateClient>
      <OverviewView />
    </HydrateClient>
  );
}
