import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../../_components/access";
import { EventDetail } from "./event-detail";

export const dynamic = "force-dynamic";

export default async function OutboxEventPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const user = await dashboardUser(`/admin/outbox/${encodeURIComponent(id)}`);
  if (!user) return null;
  await prefetch(
    trpc.admin.outbox.get.queryOptions({ id }),
  );
  return (
    <HydrateClient>
      <EventDetail id={id} canAct={user.role === "operator"} />
    </HydrateClient>
  );
}
