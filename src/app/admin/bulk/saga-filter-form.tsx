"use client";

import { Button, Group, NumberInput, Stack, TextInput } from "@mantine/core";
import { useState } from "react";
import { HydratedForm } from "../_components/hydrated-form";
import { SAGA_ACTIONS, type SagaActionStatus, type SagaBulkAction, type SagaBulkFilter, type SagaPlanned } from "./actions";
import { ActionAndStatuses, CreatedRange, FailureFields } from "./bulk-form-fields";

/** The saga side of the bulk filter: which sagas a redrive, abort or resume would act on. */
export function SagaFilterForm({ initial, onDryRun }: { initial: SagaBulkFilter; onDryRun: (p: SagaPlanned) => void }) {
  const [action, setAction] = useState<SagaBulkAction>("saga.redrive");
  const [statuses, setStatuses] = useState<SagaActionStatus[]>(initial.status ?? []);
  const [form, setForm] = useState({
    type: initial.type ?? "",
    step: "",
    errorContains: initial.errorContains ?? "",
    fingerprint: initial.fingerprint ?? "",
    idleMinutes: "",
    from: "",
    to: "",
  });
  const set = (key: keyof typeof form, value: string) => setForm((f) => ({ ...f, [key]: value }));
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onChange: (e: { currentTarget: { value: string } }) => set(key, e.currentTarget.value),
  });
  /** A NumberInput bound to a key (kept as text: empty means "no filter"). */
  const number = (key: keyof typeof form) => ({ value: form[key], onChange: (v: number | string) => set(key, String(v)), allowDecimal: false, allowNegative: false });
  const allowed = SAGA_ACTIONS[action].statuses;
  return (
    <HydratedForm
      aria-label="Bulk saga filter"
      onSubmit={(e) => {
        e.preventDefault();
        const t = (k: keyof typeof form) => form[k].trim() || undefined;
        const chosen = statuses.filter((s) => allowed.includes(s));
        const step = t("step") ? Number(t("step")) - 1 : undefined; // shown 1-based, as on the sagas list
        const idle = t("idleMinutes") ? Number(t("idleMinutes")) : undefined;
        const filter: SagaBulkFilter = {
          ...(chosen.length ? { status: chosen } : {}),
          ...(t("type") ? { type: t("type") } : {}),
          ...(step !== undefined ? { currentStep: step } : {}),
          ...(t("errorContains") ? { errorContains: t("errorContains") } : {}),
          ...(t("fingerprint") ? { fingerprint: t("fingerprint") } : {}),
          ...(idle !== undefined ? { idleMinutes: idle } : {}),
          ...(form.from ? { from: new Date(form.from) } : {}),
          ...(form.to ? { to: new Date(form.to) } : {}),
        };
        onDryRun({ target: "saga", action, filter });
      }}
    >
      <Stack gap="sm">
        <ActionAndStatuses actions={SAGA_ACTIONS} action={action} onAction={setAction} allowed={allowed} statuses={statuses} onStatuses={setStatuses} />
        <Group gap="sm" align="flex-end">
          <TextInput label="Saga type" placeholder="e.g. file.upload" maxLength={100} {...field("type")} />
          <NumberInput label="Current step (1 = first)" min={1} max={1001} {...number("step")} />
          <NumberInput label="Not moved for (minutes)" min={1} placeholder="stuck sagas, e.g. 15" {...number("idleMinutes")} />
        </Group>
        <FailureFields error={field("errorContains")} fingerprint={field("fingerprint")} />
        <CreatedRange from={field("from")} to={field("to")} />
        <Group>
          <Button type="submit">Dry run</Button>
        </Group>
      </Stack>
    </HydratedForm>
  );
}
