import type { ReactNode } from "react";
import { TopBar } from "~/app/_components/top-bar";
import { getSessionUser } from "~/trpc/server";
import { AdminNav } from "./_components/admin-nav";
import { RefreshProvider } from "./_components/refresh";

export const dynamic = "force-dynamic";

export default async function AdminLayout({ children }: { children: ReactNode }) {
  const user = await getSessionUser();
  // Signed out: the page itself redirects to sign-in with its own path as `next`.
  if (!user) return children;
  if (user.role !== "viewer" && user.role !== "operator") {
    return (
      <>
        <TopBar user={user} />
        <main>
          <section className="panel" aria-labelledby="forbidden-title">
            <h1 id="forbidden-title">403 · Not allowed</h1>
            <p role="alert">
              The operator dashboard is for viewers and operators. You are signed in as {user.email} with the role <strong>{user.role}</strong>.
            </p>
            <p className="muted">Ask an operator to give your account the viewer role, or go back to <a href="/files">your files</a>.</p>
          </section>
        </main>
      </>
    );
  }
  return (
    <>
      <TopBar user={user} />
      <RefreshProvider>
        <AdminNav role={user.role} />
        <main className="admin">{children}</main>
      </RefreshProvider>
    </>
  );
}
