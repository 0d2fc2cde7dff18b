"use client";

import { Anchor, Button, Group, Text } from "@mantine/core";
import { modals } from "@mantine/modals";
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
      <Anchor component={Link} href="/files" className="brand" underline="never">
        MetaStore
      </Anchor>
      <Group gap="md" wrap="wrap">
        <Anchor component={Link} href="/files">
          Files
        </Anchor>
        {(user.role === "operator" || user.role === "viewer") && (
          <Anchor component={Link} href="/admin">
            Dashboard
          </Anchor>
        )}
        <Text size="sm" c="dimmed">
          {user.email} ({user.role})
        </Text>
        <Button size="xs" variant="default" onClick={() => signOut.mutate()} loading={signOut.isPending}>
          Sign out
        </Button>
        <Button
          size="xs"
          variant="default"
          title="End every session of this account, on all devices"
          loading={signOutEverywhere.isPending}
          onClick={() =>
            modals.openConfirmModal({
              title: "Sign out everywhere",
              children: <Text size="sm">Sign out on every device where this account is signed in?</Text>,
              labels: { confirm: "Sign out everywhere", cancel: "Cancel" },
              confirmProps: { color: "red" },
              onConfirm: () => signOutEverywhere.mutate(),
            })
          }
        >
          Sign out everywhere
        </Button>
      </Group>
    </header>
  );
}
