import { z } from "zod";
import { OutboxStatus, SagaPhase, SagaStatus } from "../db/generated/enums";

/**
 * The statuses of the mechanisms' rows, written once. Where the schema has an enum the values come
 * from Prisma's generated enum (schema.prisma is the source); what exists only in code (the
 * operator's `stalled` view of the outbox) is an `as const` array here. Domain, routers, worker and
 * (type-only) the operator console import these.
 */

export { OutboxStatus, SagaPhase, SagaStatus };

/** Every saga status, in the schema's order. */
export const sagaStatuses = Object.values(SagaStatus);
export const sagaStatusSchema = z.enum(SagaStatus);

export const sagaPhaseSchema = z.enum(SagaPhase);

/** The outbox statuses stored in outbox_event.status. */
export const outboxStatuses = Object.values(OutboxStatus);

/**
 * What operators see: the stored statuses, plus `stalled` for a `published` event still not consumed
 * OUTBOX_STALLED_AFTER_MS after it was published (its job is slow, or lost and about to be sent
 * again by the reconciler). `published` then means published and not stalled.
 */
export const outboxViewStatuses = [...outboxStatuses, "stalled"] as const;
export type OutboxViewStatus = (typeof outboxViewStatuses)[number];
export const outboxViewStatusSchema = z.enum(outboxViewStatuses);
