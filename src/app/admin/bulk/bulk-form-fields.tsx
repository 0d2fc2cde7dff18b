"use client";

import { Checkbox, Group, Select, TextInput } from "@mantine/core";

/**
 * The parts both bulk filter forms (outbox events, sagas) share: the action with the statuses it
 * may act on, the failure fields and the creation time range. Mantine controls, as the list filters.
 */
type InputProps = { value: string; onChange: (e: { currentTarget: { value: string } }) => void };

export function ActionAndStatuses<A extends string, S extends string>({
  actions,
  action,
  onAction,
  allowed,
  statuses,
  onStatuses,
}: {
  actions: Record<A, { label: string }>;
  action: A;
  onAction: (a: A) => void;
  allowed: readonly S[];
  statuses: S[];
  onStatuses: (s: S[]) => void;
}) {
  return (
    <>
      <Select
        label="Action"
        data={(Object.entries(actions) as Array<[A, { label: string }]>).map(([value, a]) => ({ value, label: a.label }))}
        value={action}
        onChange={(v) => v && onAction(v as A)}
        allowDeselect={false}
        maw={360}
      />
      <Checkbox.Group
        label="Status (none: all the action applies to)"
        value={statuses.filter((s) => allowed.includes(s))}
        // Statuses another action allows stay chosen while this one is shown (the submit keeps only the allowed).
        onChange={(v) => onStatuses([...statuses.filter((s) => !allowed.includes(s)), ...allowed.filter((s) => v.includes(s))])}
      >
        <Group gap="md" mt={4}>
          {allowed.map((s) => (
            <Checkbox key={s} value={s} label={s} />
          ))}
        </Group>
      </Checkbox.Group>
    </>
  );
}

export function FailureFields({ error, fingerprint }: { error: InputProps; fingerprint: InputProps }) {
  return (
    <Group gap="sm" align="flex-end">
      <TextInput label="Text in the error" maxLength={200} {...error} />
      <TextInput label="Failure group (fingerprint)" maxLength={32} {...fingerprint} />
    </Group>
  );
}

export function CreatedRange({ from, to }: { from: InputProps; to: InputProps }) {
  return (
    <Group gap="sm" align="flex-end">
      <TextInput type="datetime-local" label="Created from" {...from} />
      <TextInput type="datetime-local" label="Created before" {...to} />
    </Group>
  );
}
