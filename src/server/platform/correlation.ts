import { v7 as uuidv7 } from "uuid";
import { activeTraceId } from "./telemetry/tracing";

/**
 * The correlation id: one token per user action, carried from the HTTP edge into the idempotency
 * record, the saga and its steps, every outbox event (headers + column), every job and every log
 * line, so an operator can join them (see the trace page). It is a client-visible, client-settable
 * label, never a secret and never trusted for anything but joining records.
 */
export const REQUEST_ID_HEADER = "X-Request-Id";

/** Letters, digits and `._:-`, at most 128: safe in a log line, a header and a URL path segment. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** W3C Trace Context version 00: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = "0".repeat(32);

export function isCorrelationId(value: unknown): value is string {
  return typeof value === "string" && CORRELATION_ID.test(value);
}

/** The trace id of a valid `traceparent` header value, else undefined (all-zero ids are invalid). */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  const match = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  return match && match[1] !== ZERO_TRACE_ID && match[2] !== "0".repeat(16) ? match[1] : undefined;
}

export function newCorrelationId(): string {
  return uuidv7();
}

/**
 * The correlation id of an incoming request, first of:
 *  1. the trace id of its `traceparent` (logs and the trace page then share the id a tracing backend shows);
 *  2. its `X-Request-Id` (or the older `X-Correlation-Id`) when it is a sane token;
 *  3. the trace id of the span this process opened for it (tracing on), else a fresh UUIDv7.
 * A malformed value is ignored, not echoed: it would otherwise land in logs and response headers.
 */
export function correlationIdFromHeaders(headers: Headers | null | undefined): string {
  const fromTrace = traceIdOf(headers?.get("traceparent"));
  if (fromTrace) return fromTrace;
  for (const name of ["x-request-id", "x-correlation-id"]) {
    const value = headers?.get(name)?.trim();
    if (isCorrelationId(value)) return value;
  }
  return activeTraceId() ?? newCorrelationId();
}
