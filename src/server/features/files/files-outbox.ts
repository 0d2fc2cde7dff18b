import { v7 as uuidv7 } from "uuid";
import { createFilesService, type FileChange, type FileMutationHook, type FilesDeps } from "./files-service";
import { appendEvent, type AppendOptions } from "../../reliability/outbox/append-event";
import type { EventHeaders, NewEvent } from "../../contracts/events";
import { currentTraceCarrier } from "../../platform/telemetry/tracing";

/** Map a files mutation to its event: the file is the aggregate, so one file's events stay in order. */
export function fileChangeToEvent(change: FileChange, headers: EventHeaders = {}): NewEvent {
  const { id: fileId, ownerId } = change.file;
  switch (change.type) {
    case "file.uploaded": {
      const f = change.file;
      return {
        type: "file.uploaded",
        aggregateId: fileId,
        headers,
        payload: { fileId, ownerId, name: f.name, mimeType: f.mimeType, sizeBytes: f.sizeBytes, storageKey: f.storageKey, tags: f.tags },
      };
    }
    case "file.renamed":
      return { type: "file.renamed", aggregateId: fileId, headers, payload: { fileId, ownerId, from: change.from, to: change.to } };
    case "file.tagged":
      return { type: "file.tagged", aggregateId: fileId, headers, payload: { fileId, ownerId, tags: change.tags } };
    case "file.deleted":
      return {
        type: "file.deleted",
        aggregateId: fileId,
        headers,
        payload: { fileId, ownerId, storageKey: change.file.storageKey, sizeBytes: change.file.sizeBytes },
      };
  }
}

/** The files hook that writes each change's event into the mutation's own transaction. */
export function outboxFileHook(options: AppendOptions & { headers?: EventHeaders } = {}): FileMutationHook {
  return async (tx, change) => {
    await appendEvent(tx, fileChangeToEvent(change, options.headers), options);
  };
}

/** The outbox's payload limit from the environment (OUTBOX_MAX_PAYLOAD_BYTES), else the default. */
function maxPayloadBytesFromEnv(): number | undefined {
  const value = Number(process.env.OUTBOX_MAX_PAYLOAD_BYTES);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * The one place the files service is composed with the outbox: every mutation (upload, rename,
 * tags, delete) writes its event in the same transaction. Routers and the seed use this.
 */
export function createFilesServiceWithOutbox(deps: FilesDeps, options: AppendOptions & { headers?: EventHeaders } = {}) {
  return createFilesService(deps, outboxFileHook({ maxPayloadBytes: maxPayloadBytesFromEnv(), ...options }));
}

const HEADER_VALUE = /^[\x21-\x7e]{1,200}$/;

/**
 * Event headers for a write made by a request: its correlation id (assigned at the edge), its
 * Idempotency-Key when it has one, and the trace context of the span writing the event.
 */
export function eventHeadersFor(request: { correlationId: string; request: { headers: Headers } | null }): EventHeaders {
  const key = request.request?.headers.get("idempotency-key")?.trim();
  return {
    correlationId: request.correlationId,
    ...(key && HEADER_VALUE.test(key) ? { idempotencyKey: key } : {}),
    ...currentTraceCarrier(),
  };
}

/**
 * Event headers from an HTTP request: the caller's correlation id (X-Correlation-Id or X-Request-Id)
 * when it is a sane token, else a fresh one; the Idempotency-Key when the request has one.
 */
export function eventHeadersFromHttp(headers: Headers | null | undefined): EventHeaders {
  const pick = (name: string) => {
    const value = headers?.get(name)?.trim();
    return value && HEADER_VALUE.test(value) ? value : undefined;
  };
  const idempotencyKey = pick("idempotency-key");
  return {
    correlationId: pick("x-correlation-id") ?? pick("x-request-id") ?? uuidv7(),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}
