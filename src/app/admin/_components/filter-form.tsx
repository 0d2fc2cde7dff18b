"use client";

import { Alert, Button, Checkbox, Group, Stack } from "@mantine/core";
import { useState, type FormEvent, type ReactNode } from "react";
import { HydratedForm } from "./hydrated-form";

/**
 * The filter being edited, before it is applied to the URL. Text fields keep what was typed; the
 * URL codec trims and drops empty or invalid values when the filter is applied.
 */
export function useDraft<T extends object>(initial: T) {
  const [draft, setDraft] = useState<T>(initial);
  const set = <K extends keyof T>(key: K, value: T[K] | undefined) => setDraft((d) => ({ ...d, [key]: value === "" ? undefined : value }));
  /** Props of a Mantine text input bound to one key of the draft. */
  const text = (key: { [K in keyof T]: T[K] extends string | undefined ? K : never }[keyof T]) => ({
    value: (draft[key] as string | undefined) ?? "",
    onChange: (e: { currentTarget: { value: string } }) => set(key, e.currentTarget.value as T[typeof key]),
  });
  return { draft, set, text, reset: () => setDraft({} as T) };
}

/** A list's filter form: its fields, then Apply and Clear; `problem` says what to fix before applying. Usable once hydrated. */
export function FilterForm({
  label,
  onApply,
  onClear,
  applyLabel = "Apply filters",
  problem,
  children,
}: {
  label: string;
  onApply: () => void;
  onClear: () => void;
  applyLabel?: string;
  problem?: string | null;
  children: ReactNode;
}) {
  return (
    <HydratedForm
      aria-label={label}
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        onApply();
      }}
    >
      <Stack gap="sm">
        {children}
        <Group gap="sm">
          <Button type="submit">{applyLabel}</Button>
          <Button type="button" variant="default" onClick={onClear}>
            Clear
          </Button>
        </Group>
        {problem && (
          <Alert role="alert" color="red" variant="light" py="xs" className="error">
            {problem}
          </Alert>
        )}
      </Stack>
    </HydratedForm>
  );
}

/** Status checkboxes of a filter (none checked: any status). */
export function StatusChecks<S extends string>({ statuses, value, onChange }: { statuses: readonly S[]; value: S[] | undefined; onChange: (next: S[] | undefined) => void }) {
  return (
    <Checkbox.Group label="Status" value={value ?? []} onChange={(v) => onChange(v.length ? (statuses.filter((s) => v.includes(s)) as S[]) : undefined)}>
      <Group gap="md" mt={4}>
        {statuses.map((s) => (
          <Checkbox key={s} value={s} label={s.replace("_", " ")} />
        ))}
      </Group>
    </Checkbox.Group>
  );
}
