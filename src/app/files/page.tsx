import { redirect } from "next/navigation";
import { TopBar } from "~/app/_components/top-bar";
import { getSessionUser, HydrateClient, prefetch, trpc } from "~/trpc/server";
import { FilesView } from "./files-view";

export const dynamic = "force-dynamic";

export default async function FilesPage() {
  const user = await getSessionUser();
  if (!user) redirect("/signin?next=/files");
  // The first page is fetched on the server and hydrated, so the list shows without a spinner.
  await prefetch(trpc.files.list.infiniteQueryOptions({ limit: 25 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }));
  return (
    <HydrateClient>
      <TopBar user={user} />
      <main>
        <FilesView />
      </main>
    </HydrateClient>
  );
}
