"use client";

import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useTRPC } from "~/trpc/react";

export function TopBar({ user }: { user: { email: string; role: string } }) {
  const trpc = useTRPC();
  const router = useRouter();
  const signOut = useMutation(trpc.auth.signOut.mutationOptions({ onSuccess: () => router.replace("/signin") }));
  const signOutEverywhere = useMutation(trpc.auth.signOutEverywhere.mutationOptions({ onSuccess: () => router.replace("/signin") }));
  return (
    <header className="top">
      <Link href="/files" className="brand">
        MetaStore
      </Link>
      <Link href="/files">Files</Link>
      {(user.role === "operator" || user.role === "viewer") && <Link href="/admin">Dashboard</Link>}
      <span className="muted">
        {user.email} ({user.role})
      </span>
      <button onClick={() => signOut.mutate()} disabled={signOut.isPending}>
        Sign out
      </button>
      <button
        title="End every session of this account, on all devices"
        onClick={() => {
          if (window.confirm("Sign out on every device where this account is signed in?")) signOutEverywhere.mutate();
        }}
        disabled={signOutEverywhere.isPending}
      >
        Sign out everywhere
      </button>
    </header>
  );
}
