import type { AdminInputs, AdminOutputs } from "../_components/types";

/**
 * What the bulk page offers per target and action: labels, verbs, the statuses each action applies
 * to (the server's rules, bulk/filter.ts and bulk/saga-filter.ts, shown so the form offers only
 * those), and whether the confirm dialog demands a reason.
 */
type DryRunInput = AdminInputs["bulk"]["dryRun"];
export type SagaPlanned = Extract<DryRunInput, { target: "saga" }>;
export type OutboxPlanned = Exclude<DryRunInput, { target: "saga" }> & { target: "outbox" };
export type Planned = OutboxPlanned | SagaPlanned;
export type BulkTarget = Planned["target"];
export type SagaBulkFilter = NonNullable<SagaPlanned["filter"]>;
export type SagaBulkAction = SagaPlanned["action"];
export type Operation = AdminOutputs["bulk"]["get"];

export type OutboxActionStatus = "pending" | "failed" | "dead";
export type SagaActionStatus = "running" | "compensating" | "failed" | "compensated" | "aborted";

interface ActionMeta<S> {
  label: string;
  verb: string;
  noun: string;
  statuses: S[];
  danger: boolean;
  reasonRequired: boolean;
}

export const OUTBOX_ACTIONS: Record<OutboxPlanned["action"], ActionMeta<OutboxActionStatus>> = {
  "outbox.retry": { label: "Retry events", verb: "retried", noun: "event", statuses: ["failed", "dead"], danger: false, reasonRequired: false },
  "outbox.discard": { label: "Discard events", verb: "discarded", noun: "event", statuses: ["pending", "failed", "dead"], danger: true, reasonRequired: false },
};

export const SAGA_ACTIONS: Record<SagaBulkAction, ActionMeta<SagaActionStatus>> = {
  "saga.redrive": { label: "Redrive sagas", verb: "redriven", noun: "saga", statuses: ["failed", "compensated", "aborted"], danger: false, reasonRequired: false },
  "saga.abort": { label: "Abort sagas", verb: "aborted", noun: "saga", statuses: ["running"], danger: true, reasonRequired: true },
  "saga.resume": { label: "Resume sagas", verb: "resumed", noun: "saga", statuses: ["running", "compensating"], danger: false, reasonRequired: false },
};

export function actionMeta(action: string): ActionMeta<string> {
  return (OUTBOX_ACTIONS as Record<string, ActionMeta<string>>)[action] ?? (SAGA_ACTIONS as Record<string, ActionMeta<string>>)[action] ?? { label: action, verb: "acted on", noun: "row", statuses: [], danger: false, reasonRequired: false };
}
