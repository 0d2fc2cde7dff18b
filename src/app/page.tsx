import { redirect } from "next/navigation";
import { getSessionUser } from "~/trpc/server";

export default async function Home() {
  redirect((await getSessionUser()) ? "/files" : "/signin");
}
