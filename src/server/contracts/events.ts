import { z } from "zod";

/**
 * The event contracts of MetaStore: every event type, the aggregate it belongs to and the zod
 * schema of its payload. Writers and consumers both import this, so a payload shape is written
 * once; an event whose payload does not match fails the business transaction that writes it.
 */
const fileId = z.uuid();
const ownerId = z.uuid();

export const eventRegistry = {
  "file.uploaded": {
    aggregateType: "file",
    payload: z.object({
      fileId,
      ownerId,
      name: z.string().min(1).max(1024),
      mimeType: z.string().min(1).max(255),
      sizeBytes: z.number().int().nonnegative(),
      storageKey: z.string().min(1).max(512),
      tags: z.array(z.string()).max(50),
    }),
  },
  "file.renamed": {
    aggregateType: "file",
    payload: z.object({ fileId, ownerId, from: z.string().max(1024), to: z.string().min(1).max(1024) }),
  },
  "file.tagged": {
    aggregateType: "file",
    payload: z.object({ fileId, ownerId, tags: z.array(z.string()).max(50) }),
  },
  "file.deleted": {
    aggregateType: "file",
    payload: z.object({ fileId, ownerId, storageKey: z.string().min(1).max(512), sizeBytes: z.number().int().nonnegative() }),
  },
} as const satisfies Record<string, { aggregateType: string; payload: z.ZodType }>;

export type EventType = keyof typeof eventRegistry;
export type EventPayload<T extends EventType> = z.infer<(typeof eventRegistry)[T]["payload"]>;
export const eventTypes = Object.keys(eventRegistry) as EventType[];

/** The events of the file aggregate (everything the files feature writes). */
export type FileEventType = { [T in EventType]: (typeof eventRegistry)[T]["aggregateType"] extends "file" ? T : never }[EventType];
export const fileEventTypes = eventTypes.filter((type): type is FileEventType => eventRegistry[type].aggregateType === "file");

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventRegistry, type);
}

/** Trace headers carried with an event (never business data). */
export const eventHeadersSchema = z
  .object({
    /** Ties together everything one user action caused (the HTTP request's id). */
    correlationId: z.string().min(1).max(200).optional(),
    /** The event or command that directly caused this one. */
    causationId: z.string().min(1).max(200).optional(),
    /** The Idempotency-Key of the request that wrote it, when it had one. */
    idempotencyKey: z.string().min(1).max(200).optional(),
    /** W3C trace context of the span that wrote it: consumers' spans are its children. */
    traceparent: z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/).optional(),
    tracestate: z.string().max(512).optional(),
  })
  .strict();
export type EventHeaders = z.infer<typeof eventHeadersSchema>;

/** An event as a writer hands it to the outbox. */
export type NewEvent = {
  [T in EventType]: {
    type: T;
    /** The aggregate (for file events: the file id); events of one aggregate are delivered in commit order. */
    aggregateId: string;
    payload: EventPayload<T>;
    headers?: EventHeaders;
    /** Publish attempts before the event is `dead` (default 5). */
    maxAttempts?: number;
  };
}[EventType];

/** An event as consumers receive it (the BullMQ job payload of the outbox-events queue). */
export const deliveredEventSchema = z.object({
  id: z.uuid(),
  type: z.string(),
  aggregateType: z.string(),
  aggregateId: z.string(),
  aggregateSeq: z.number().int().positive(),
  payload: z.unknown(),
  headers: eventHeadersSchema.partial().passthrough(),
  createdAt: z.string(),
});
export type DeliveredEvent = z.infer<typeof deliveredEventSchema>;

/** The payload of a delivered event, checked against its contract (consumers call this). */
export function payloadOf<T extends EventType>(event: DeliveredEvent, type: T): EventPayload<T> {
  if (event.type !== type) throw new Error(`Expected a ${type} event, got ${event.type} (${event.id})`);
  return eventRegistry[type].payload.parse(event.payload) as EventPayload<T>;
}
