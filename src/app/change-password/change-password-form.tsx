"use client";

import { Alert, Button, Group, List, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "~/server/auth/password-rules";
import { useTRPC } from "~/trpc/react";

/** The problem with the new password the browser can see before asking the server, or null. */
function newPasswordProblem(current: string, next: string, confirm: string): string | null {
  if (next.length < MIN_PASSWORD_LENGTH) return `The new password needs at least ${MIN_PASSWORD_LENGTH} characters (it has ${next.length}).`;
  if (next.length > MAX_PASSWORD_LENGTH) return `The new password may have at most ${MAX_PASSWORD_LENGTH} characters.`;
  if (next === current) return "The new password must differ from the current one.";
  if (next !== confirm) return "The two new passwords do not match: type the same password twice.";
  return null;
}

export function ChangePasswordForm({ email, required, next }: { email: string; required: boolean; next: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [current, setCurrent] = useState("");
  const [fresh, setFresh] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const change = useMutation(
    trpc.auth.changePassword.mutationOptions({
      onSuccess: () => {
        router.replace(next);
        router.refresh();
      },
    }),
  );
  const signOut = useMutation(trpc.auth.signOut.mutationOptions({ onSuccess: () => router.replace("/signin") }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = newPasswordProblem(current, fresh, confirm);
    setProblem(found);
    if (!found) change.mutate({ currentPassword: current, newPassword: fresh });
  };
  const error = problem ?? change.error?.message ?? null;

  return (
    <Paper withBorder p="lg" maw={460} mx="auto" mt="xl">
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          <Title order={1} size="h2">
            {required ? "Set your own password" : "Change your password"}
          </Title>
          {required && (
            <Alert color="yellow" role="note" title="Your password was a one-time password">
              You signed in as {email} with a password an operator gave you. Choose your own password to continue: nothing else works until you do.
            </Alert>
          )}
          <PasswordInput
            label={required ? "One-time password" : "Current password"}
            name="currentPassword"
            autoComplete="current-password"
            required
            value={current}
            onChange={(e) => setCurrent(e.currentTarget.value)}
          />
          <PasswordInput
            label="New password"
            name="newPassword"
            autoComplete="new-password"
            required
            description={`At least ${MIN_PASSWORD_LENGTH} characters, different from the current one.`}
            value={fresh}
            onChange={(e) => setFresh(e.currentTarget.value)}
          />
          <PasswordInput
            label="New password again"
            name="confirmPassword"
            autoComplete="new-password"
            required
            value={confirm}
            onChange={(e) => setConfirm(e.currentTarget.value)}
          />
          <List size="sm" c="dimmed">
            <List.Item>
              Length: {fresh.length} of at least {MIN_PASSWORD_LENGTH} characters
            </List.Item>
          </List>
          {error && (
            <Alert color="red" role="alert" title="The password was not changed">
              {error}
            </Alert>
          )}
          <Group justify="space-between">
            {required ? (
              <Button variant="default" onClick={() => signOut.mutate()} loading={signOut.isPending}>
                Sign out
              </Button>
            ) : (
              <Text size="sm" c="dimmed">
                Signed in as {email}
              </Text>
            )}
            <Button type="submit" loading={change.isPending}>
              Save new password
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
