import { redirect } from "next/navigation";
import { safeNextPath } from "~/app/signin/safe-next-path";
import { getSessionUserPendingPasswordChange } from "~/trpc/server";
import { ChangePasswordForm } from "./change-password-form";

export const dynamic = "force-dynamic";

/**
 * Where a user who signed in with a one-time password lands (every other page sends them here);
 * also open to anyone signed in who wants a new password.
 */
export default async function ChangePasswordPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  const user = await getSessionUserPendingPasswordChange();
  if (!user) redirect(`/signin?next=/change-password`);
  return (
    <main>
      <ChangePasswordForm email={user.email} required={user.mustChangePassword === true} next={safeNextPath(next)} />
    </main>
  );
}
