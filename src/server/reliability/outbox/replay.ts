import { z } from "zod";
import type { Db } from "../../platform/db/client";
import { inTransaction } from "../../platform/db/transaction";
import { recordOperatorAction, type AuditContext, type TransactionOnly } from "../audit";
import { DomainError, notFound } from "../../platform/errors";
import { appendEvent } from "./append-event";
import { eventHeadersSchema, eventRegistry, isEventType, type NewEvent } from "../../contracts/events";

/**
 * Replay one event with a payload an operator edited (Trigger.dev's "replay with edited payload",
 * Inngest's rerun with new input). The original is never touched: a NEW event of the same type and
 * aggregate is appended, linked by `replay_of`, with the original as its causation, and goes
 * through the relay and the consumers like any other. The payload must satisfy the event type's
 * contract (the zod schema in the event registry): an operator's typo is a 400 that writes nothing.
 *
 * Ordering: the replay takes the aggregate's next sequence number, so it is delivered after every
 * earlier event of the aggregate has been consumed — including the original, if that one is still
 * failed or dead. The answer says so (`waitsFor`): discard or retry the original to let it go.
 */
export async function replayEventWithPayload(db: Db, originalId: string, payload: unknown, audit: AuditContext) {
  const original = await db.outboxEvent.findUnique({
    where: { id: originalId },
    select: { id: true, eventType: true, aggregateId: true, headers: true, maxAttempts: true },
  });
  if (!original) throw notFound(`Outbox event ${originalId} was not found (it may have been removed by retention)`);
  const type = original.eventType;
  if (!isEventType(type)) {
    throw new DomainError("precondition_failed", `Event type ${type} is not in this server's event registry, so a replay cannot be checked against its contract`);
  }
  const parsed = eventRegistry[type].payload.safeParse(payload);
  if (!parsed.success) {
    throw new DomainError("bad_input", `The payload does not match the ${type} contract: ${z.prettifyError(parsed.error)}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
    });
  }
  const originalHeaders = eventHeadersSchema.partial().safeParse(original.headers);
  const headers = {
    ...(originalHeaders.success && originalHeaders.data.correlationId ? { correlationId: originalHeaders.data.correlationId } : {}),
    causationId: original.id,
  };
  return inTransaction(db, async (tx) => {
    const event = { type, aggregateId: original.aggregateId, payload: parsed.data, headers, maxAttempts: original.maxAttempts } as NewEvent;
    const appended = await appendEvent(tx, event, { replayOf: original.id });
    await recordOperatorAction(tx as TransactionOnly, {
      ...audit,
      action: "outbox.replayEdited",
      targetKind: "outbox_event",
      targetIds: [original.id, appended.id],
      affectedCount: 1,
    });
    // An earlier event of the aggregate that the replay will wait for (often the original itself).
    const waitsFor = await tx.outboxEvent.findFirst({
      where: { aggregateType: eventRegistry[type].aggregateType, aggregateId: original.aggregateId, aggregateSeq: { lt: appended.aggregateSeq }, consumedAt: null, status: { not: "discarded" } },
      orderBy: { aggregateSeq: "asc" },
      select: { id: true, status: true },
    });
    await tx.$executeRaw`SELECT pg_notify('outbox_event', 'operator')`; // delivered at commit: relays look now
    return { id: appended.id, replayOf: original.id, aggregateSeq: appended.aggregateSeq, waitsFor };
  });
}
