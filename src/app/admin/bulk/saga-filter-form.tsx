"use client";

import { useState } from "react";
import { SAGA_ACTIONS, type SagaActionStatus, type SagaBulkAction, type SagaBulkFilter, type SagaPlanned } from "./actions";

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
      <label>
        Action
        <select value={action} onChange={(e) => setAction(e.target.value as SagaBulkAction)}>
          {Object.entries(SAGA_ACTIONS).map(([value, a]) => (
            <option key={value} value={value}>
              {a.label}
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>Status (none: all the action applies to)</legend>
        {allowed.map((s) => (
          <label key={s}>
            <input type="checkbox" checked={statuses.includes(s)} onChange={(e) => setStatuses(e.target.checked ? [...statuses, s] : statuses.filter((x) => x !== s))} />
            {s}
          </label>
        ))}
      </fieldset>
      <label>
        Saga type
        <input {...field("type")} placeholder="e.g. file.upload" maxLength={100} />
      </label>
      <label>
        Current step (1 = first)
        <input type="number" min={1} max={1001} {...field("step")} />
      </label>
      <label>
        Text in the error
        <input {...field("errorContains")} maxLength={200} />
      </label>
      <label>
        Failure group (fingerprint)
        <input {...field("fingerprint")} maxLength={32} />
      </label>
      <label>
        Not moved for (minutes)
        <input type="number" min={1} {...field("idleMinutes")} placeholder="stuck sagas, e.g. 15" />
      </label>
      <label>
        Created from
        <input type="datetime-local" {...field("from")} />
      </label>
      <label>
        Created before
        <input type="datetime-local" {...field("to")} />
      </label>
      <button type="submit">Dry run</button>
    </form>
  );
}
