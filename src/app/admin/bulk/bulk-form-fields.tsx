"use client";

/**
 * The parts both bulk filter forms (outbox events, sagas) share: the action with the statuses it
 * may act on, the failure fields and the creation time range. Plain inputs, as the rest of the forms.
 */
type InputProps = { value: string; onChange: (e: { target: { value: string } }) => void };

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
      <label>
        Action
        <select value={action} onChange={(e) => onAction(e.target.value as A)}>
          {(Object.entries(actions) as Array<[A, { label: string }]>).map(([value, a]) => (
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
            <input type="checkbox" checked={statuses.includes(s)} onChange={(e) => onStatuses(e.target.checked ? [...statuses, s] : statuses.filter((x) => x !== s))} />
            {s}
          </label>
        ))}
      </fieldset>
    </>
  );
}

export function FailureFields({ error, fingerprint }: { error: InputProps; fingerprint: InputProps }) {
  return (
    <>
      <label>
        Text in the error
        <input {...error} maxLength={200} />
      </label>
      <label>
        Failure group (fingerprint)
        <input {...fingerprint} maxLength={32} />
      </label>
    </>
  );
}

export function CreatedRange({ from, to }: { from: InputProps; to: InputProps }) {
  return (
    <>
      <label>
        Created from
        <input type="datetime-local" {...from} />
      </label>
      <label>
        Created before
        <input type="datetime-local" {...to} />
      </label>
    </>
  );
}
