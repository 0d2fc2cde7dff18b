import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { dashboardUser } from "../../_components/access";
import { traceKindOf } from "../trace-links";
import { TraceView } from "./trace-view";

export const dynamic = "force-dynamic";

/** /admin/trace/<id>?kind=correlation|event|saga|idempotency|file (default: correlation). */
export default async function TracePage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<{ kind?: string | string[] }> }) {
  const { id } = await params;
  const kind = traceKindOf((await searchParams).kind);
  const user = await dashboardUser(`/admin/trace/${encodeURIComponent(id)}?kind=${kind}`);
  if (!user) return null;
  // A malformed id is answered by the query (a 400 shown on the page), not by the prefetch.
  await prefetch(trpc.admin.trace.get.queryOptions({ kind, id } as never));
  return (
    <HydrateClient>
      <TraceView kind={kind} id={id} />
    </HydrateClient>
  );
}
