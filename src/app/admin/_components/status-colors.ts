import type { MantineColor } from "@mantine/core";
import type { OutboxViewStatus, SagaStatus } from "~/server/contracts/statuses";
import type { WorkerStatus } from "~/server/reliability/fleet/registry";
import type { AttemptOutcome, BulkOperationStatus, DeliveryOutcome, IdempotencyState, Role, SagaStepStatus } from "~/server/db/generated/enums";

/** The outcome column of operator_audit (a plain string in the schema: succeeded | cancelled | failed). */
type AuditOutcome = "succeeded" | "cancelled" | "failed";
/** Fleet: a worker's heartbeat state, and a queue's desired state. */
type FleetStatus = WorkerStatus | "paused" | "running";

/**
 * Every status and outcome the console shows, from the contracts and the schema's enums (types only:
 * nothing of the server reaches the client bundle). A status added to an enum and missing here fails
 * the type check of STATUS_COLORS.
 */
export type StatusName =
  | OutboxViewStatus
  | SagaStatus
  | SagaStepStatus
  | AttemptOutcome
  | DeliveryOutcome
  | IdempotencyState
  | BulkOperationStatus
  | AuditOutcome
  | FleetStatus
  | Role;

/**
 * The one colour map of the console: green = done, blue = in flight, orange/yellow = needs a look,
 * red = failed, gray = idle or set aside. The badge's text carries the meaning; colour only helps scanning.
 */
export const STATUS_COLORS: Record<StatusName, MantineColor> = {
  // outbox events
  pending: "gray",
  publishing: "blue",
  published: "green",
  stalled: "orange",
  failed: "red",
  dead: "red",
  discarded: "gray",
  // sagas, steps and attempts
  running: "blue",
  compensating: "orange",
  completed: "green",
  compensated: "yellow",
  aborted: "gray",
  succeeded: "green",
  skipped: "gray",
  // a delivery the inbox had already taken: harmless, worth telling apart from a first success
  duplicate: "cyan",
  // idempotency records
  in_progress: "blue",
  // bulk operations and audit rows
  cancelled: "gray",
  // fleet
  live: "green",
  gone: "gray",
  stopped: "gray",
  paused: "orange",
  // roles
  user: "gray",
  viewer: "blue",
  operator: "violet",
};

export const isStatusName = (value: string): value is StatusName => Object.hasOwn(STATUS_COLORS, value);

/** Statuses that share a hue with another in a chart (dead beside failed, discarded beside pending) get a darker shade. */
const DARKER = new Set<StatusName>(["dead", "discarded"]);

/** A status's colour in a chart (the badge's hue, a bar-strength shade). */
export const chartColor = (status: StatusName) => `${STATUS_COLORS[status]}.${DARKER.has(status) ? 8 : 6}`;
