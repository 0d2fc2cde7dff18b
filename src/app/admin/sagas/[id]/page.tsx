import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../../_components/access";
import { SagaTimeline } from "./saga-timeline";

export const dynamic = "force-dynamic";

export default async function SagaPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const user = await dashboardUser(`/admin/sagas/${encodeURIComponent(id)}`);
  if (!user) return null;
  await prefetch(
    trpc.admin.sagas.timeline.queryOptions({ id }),
  );
  return (
    <HydrateClient>
      <SagaTimeline id={id} canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
