"use client";

import { Button, Group, NativeSelect, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import type { AdminOutputs } from "../_components/types";
import { DataTable, type Column } from "../_components/data-table";
import { FilterForm, useDraft } from "../_components/filter-form";
import { HydratedForm } from "../_components/hydrated-form";
import { useUrlFilter } from "../_components/use-url-filter";
import { usersUrlFilter, type UsersFilter } from "./filter-params";
import { ConfirmButton, errorText, formatTime, ResultMessage, StatusBadge, type Result } from "../_components/ui";

type User = AdminOutputs["users"]["list"]["items"][number];
type Role = User["role"];
const ROLES: Role[] = ["user", "viewer", "operator"];

function columns(canAct: boolean, selfId: string, onResult: (r: Result) => void): Array<Column<User>> {
  return [
    {
      header: "Email",
      cell: (u) => (
        <>
          {u.email}
          {u.id === selfId && <span className="muted small"> (you)</span>}
        </>
      ),
    },
    { header: "Name", cell: (u) => u.name },
    { header: "Role", cell: (u) => (canAct ? <RoleSelect user={u} onResult={onResult} /> : <StatusBadge status={u.role} />) },
    { header: "Created", cell: (u) => formatTime(u.createdAt), muted: true, nowrap: true },
    { header: "Password", cell: (u) => (u.mustChangePassword ? `one-time, expires ${formatTime(u.passwordExpiresAt)}` : "set by the user") },
    { header: "Actions", show: canAct, cell: (u) => <RevokeSessions user={u} onResult={onResult} /> },
  ];
}

/** Users and roles: viewers read the list; operators change roles, sign users out, create accounts. */
export function UsersView({ canAct, selfId }: { canAct: boolean; selfId: string }) {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const { filter, setFilter, key } = useUrlFilter(usersUrlFilter);
  const [result, setResult] = useState<Result>(null);
  const users = useQuery({ ...trpc.admin.users.list.queryOptions(filter), refetchInterval });

  return (
    <>
      <div className="row page-head">
        <h1>Users</h1>
        <RefreshBar queries={[users]} />
      </div>
      <ResultMessage result={result} />
      {canAct && <CreateUser onResult={setResult} />}
      <section className="panel" aria-labelledby="users-title">
        <h2 id="users-title">Accounts</h2>
        <UserSearchForm key={key} initial={filter} onSearch={setFilter} />
        <DataTable
          label="Users"
          what="the users"
          query={users}
          rows={users.data?.items}
          columns={columns(canAct, selfId, setResult)}
          rowKey={(u) => u.id}
          empty={filter.query ? `No user matches “${filter.query}”.` : "No user yet."}
          footer={users.data?.nextCursor && <p className="muted">More users match: narrow the search.</p>}
        />
      </section>
    </>
  );
}

function UserSearchForm({ initial, onSearch }: { initial: UsersFilter; onSearch: (f: UsersFilter) => void }) {
  const { draft, text, reset } = useDraft(initial);
  return (
    <FilterForm
      label="Find users"
      applyLabel="Search"
      onApply={() => onSearch(draft)}
      onClear={() => {
        reset();
        onSearch({});
      }}
    >
      <TextInput type="search" label="Find by email or name" maxLength={200} maw={360} {...text("query")} />
    </FilterForm>
  );
}

function useRefreshUsers() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: trpc.admin.users.pathKey() });
}

function RoleSelect({ user, onResult }: { user: User; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const refresh = useRefreshUsers();
  const [role, setRole] = useState<Role>(user.role);
  const [reason, setReason] = useState("");
  const change = useMutation(trpc.admin.users.changeRole.mutationOptions({ onSettled: refresh }));
  return (
    <div className="row">
      <NativeSelect aria-label={`Role of ${user.email}`} data={ROLES} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)} size="xs" />
      <ConfirmButton
        label="Change role"
        title={`Change the role of ${user.email}`}
        confirmLabel={`Make ${role}`}
        pendingLabel="Changing…"
        disabled={role === user.role}
        onOpen={() => setReason("")}
        onConfirm={async () => {
          await change.mutateAsync({ id: user.id, role, reason: reason.trim() || undefined });
          onResult({ kind: "ok", text: `${user.email} is now ${role}; it applies to their next request.` });
        }}
      >
        <p>
          {user.email}: {user.role} → <strong>{role}</strong>. It applies to their next request, on every instance.
        </p>
        <TextInput label="Reason (kept in the audit log)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} maxLength={500} placeholder="optional" />
      </ConfirmButton>
    </div>
  );
}

function RevokeSessions({ user, onResult }: { user: User; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const refresh = useRefreshUsers();
  const revoke = useMutation(trpc.admin.users.revokeSessions.mutationOptions({ onSettled: refresh }));
  return (
    <ConfirmButton
      label="Sign out everywhere"
      title={`Sign ${user.email} out everywhere`}
      confirmLabel="Revoke every session"
      pendingLabel="Revoking…"
      danger
      onConfirm={async () => {
        await revoke.mutateAsync({ id: user.id });
        onResult({ kind: "ok", text: `Every session of ${user.email} is revoked.` });
      }}
    >
      <p>Every device signed in as {user.email} is signed out at its next request.</p>
    </ConfirmButton>
  );
}

function CreateUser({ onResult }: { onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const refresh = useRefreshUsers();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("user");
  const create = useMutation(trpc.admin.users.create.mutationOptions({ onSettled: refresh }));
  return (
    <section className="panel" aria-labelledby="create-user-title">
      <h2 id="create-user-title">Create a user</h2>
      <HydratedForm
        aria-label="Create a user"
        onSubmit={(e) => {
          e.preventDefault();
          onResult(null);
          create.mutate({ email, name, role });
        }}
      >
        <Group gap="sm" align="flex-end">
          <TextInput type="email" label="Email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} required maxLength={254} />
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required maxLength={200} />
          <NativeSelect label="Role" data={ROLES} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)} />
          <Button type="submit" loading={create.isPending}>
            Create user
          </Button>
        </Group>
      </HydratedForm>
      {create.isError && (
        <p role="alert" className="error">
          Could not create the user: {errorText(create.error)}
        </p>
      )}
      {create.isSuccess && (
        <div role="status" className="ok">
          <p>
            {create.data.email} created as {create.data.role}. One-time password (shown only now; it expires {formatTime(create.data.passwordExpiresAt)} and must be
            replaced at first sign-in):
          </p>
          <p>
            <code aria-label="One-time password">{create.data.oneTimePassword}</code>
          </p>
        </div>
      )}
    </section>
  );
}
