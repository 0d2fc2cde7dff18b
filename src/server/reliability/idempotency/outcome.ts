import { transformer } from "../../platform/transformer";

/**
 * What a completed record replays: the procedure's data, or the error it answered with. Errors keep
 * enough of their cause (zod issues, domain error kind and details) for the tRPC error formatter to
 * produce the very same response body on replay. Stored with the project's transformer so Dates,
 * BigInts and friends come back as they went in.
 */
export type StoredCause =
  | { type: "zod"; issues: unknown[] }
  | { type: "domain"; kind: string; message: string; details?: Record<string, unknown> };

export type StoredOutcome =
  | { type: "data"; data: unknown }
  | { type: "error"; code: string; message: string; cause?: StoredCause };

/** The JSON value written to idempotency_key.result. */
export type SerializedOutcome = ReturnType<typeof transformer.serialize>;

export function serializeOutcome(outcome: StoredOutcome): SerializedOutcome {
  return transformer.serialize(outcome);
}

export function deserializeOutcome(stored: unknown): StoredOutcome {
  return transformer.deserialize(stored as SerializedOutcome);
}
