import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { Tx } from "../../platform/db/transaction";
import { DomainError } from "../../platform/errors";
import { eventHeadersSchema, eventRegistry, eventTypes, isEventType, type NewEvent } from "../../contracts/events";

/** Default cap on one event's serialised payload: events carry facts and ids, never file contents. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * A writer broke an event contract (unknown type, payload not matching its schema). It is a bug in
 * the writing code, not the user's input, so it surfaces as a 500, and the business transaction
 * it happened in rolls back with it.
 */
export class EventContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EventContractError";
  }
}

export interface AppendOptions {
  maxPayloadBytes?: number;
  /** The event this one replays (an operator's edited replay): kept as outbox_event.replay_of. */
  replayOf?: string;
}

/**
 * Write one event in the caller's transaction (the same one as the business change), so the event
 * exists exactly when the change commits. The aggregate's sequence number is taken by an upsert on
 * outbox_aggregate: the row lock it takes is held to commit, so a second writer of the same
 * aggregate waits and gets the next number — sequence order is commit order, which UUIDv7 ids
 * (assigned before commit) are not.
 */
export async function appendEvent(tx: Tx, event: NewEvent, options: AppendOptions = {}): Promise<{ id: string; aggregateSeq: number }> {
  const type: string = event.type;
  if (!isEventType(type)) {
    throw new EventContractError(`Unknown event type "${type}": register it in the outbox event registry (known: ${eventTypes.join(", ")})`);
  }
  const contract = eventRegistry[type];
  const parsed = contract.payload.safeParse(event.payload);
  if (!parsed.success) {
    throw new EventContractError(`Invalid payload for event ${type}: ${z.prettifyError(parsed.error)}`);
  }
  const headers = eventHeadersSchema.safeParse(event.headers ?? {});
  if (!headers.success) throw new EventContractError(`Invalid headers for event ${type}: ${z.prettifyError(headers.error)}`);
  const aggregateId = z.string().min(1).max(200).safeParse(event.aggregateId);
  if (!aggregateId.success) throw new EventContractError(`Event ${type} needs an aggregate id of 1–200 characters`);
  const maxAttempts = event.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw new EventContractError(`Event ${type}: maxAttempts must be a whole number from 1 to 100 (got ${maxAttempts})`);
  }

  const payloadJson = JSON.stringify(parsed.data);
  const limit = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const size = Buffer.byteLength(payloadJson);
  if (size > limit) {
    throw new DomainError("too_large", `The ${type} event would be ${size} bytes; events are limited to ${limit} bytes (use a shorter name or fewer tags)`, { limit, size });
  }

  const id = uuidv7();
  const rows = await tx.$queryRaw<Array<{ aggregate_seq: number }>>`
    WITH seq AS (
      INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq)
      VALUES (${contract.aggregateType}, ${aggregateId.data}, 1)
      ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_seq = outbox_aggregate.last_seq + 1
      RETURNING last_seq
    )
    INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, headers, max_attempts, correlation_id, replay_of)
    SELECT ${id}::uuid, ${contract.aggregateType}, ${aggregateId.data}, seq.last_seq, ${type}, ${payloadJson}::jsonb,
           ${JSON.stringify(headers.data)}::jsonb, ${maxAttempts}, ${headers.data.correlationId ?? null}, ${options.replayOf ?? null}::uuid
    FROM seq
    RETURNING aggregate_seq`;
  return { id, aggregateSeq: rows[0]!.aggregate_seq };
}
