import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "./_components/access";
import { overviewInputs } from "./_components/types";
import { OverviewView } from "./overview-view";

export const dynamic = "force-dynamic";

export default async function AdminOverviewPage() {
  const user = await dashboardUser("/admin");
  if (!user) return null; // the layout shows the not-allowed message
  prefetch(trpc.admin.outbox.stats.queryOptions(overviewInputs.outboxStats));
  prefetch(trpc.admin.outbox.blocked.queryOptions(overviewInputs.blocked));
  prefetch(trpc.admin.sagas.metrics.queryOptions(overviewInputs.sagaMetrics));
  prefetch(trpc.admin.idempotency.stats.queryOptions(overviewInputs.idempotencyStats));
  prefetch(trpc.admin.cache.stats.queryOptions());
  return (
    <HydrateClient>
      <OverviewView />
    </HydrateClient>
  );
}
