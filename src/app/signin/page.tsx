import { redirect } from "next/navigation";
import { getSessionUser } from "~/trpc/server";
import { safeNextPath } from "./safe-next-path";
import { SignInForm } from "./sign-in-form";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  const target = safeNextPath(next);
  if (await getSessionUser()) redirect(target);
  return (
    <main>
      <div className="panel" style={{ maxWidth: 420, margin: "4rem auto" }}>
        <h1>Sign in to MetaStore</h1>
        <SignInForm next={target} />
      </div>
    </main>
  );
}
