"use client";

import { useState } from "react";
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
  const field = (key: keyof typeof form) => ({ value: form[key], onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }) });
  const allowed = SAGA_ACTIONS[action].statuses;
  return (
    <form
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
      <ActionAndStatuses actions={SAGA_ACTIONS} action={action} onAction={setAction} allowed={allowed} statuses={statuses} onStatuses={setStatuses} />
      <label>
        Saga type
        <input {...field("type")} placeholder="e.g. file.upload" maxLength={100} />
      </label>
      <label>
        Current step (1 = first)
        <input type="number" min={1} max={1001} {...field("step")} />
      </label>
      <FailureFields error={field("errorContains")} fingerprint={field("fingerprint")} />
      <label>
        Not moved for (minutes)
        <input type="number" min={1} {...field("idleMinutes")} placeholder="stuck sagas, e.g. 15" />
      </label>
      <CreatedRange from={field("from")} to={field("to")} />
      <button type="submit">Dry run</button>
    </form>
  );
}
