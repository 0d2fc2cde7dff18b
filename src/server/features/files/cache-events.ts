import { z } from "zod";
import { tagsForFileChange } from "./cache-tags";
import type { QueryCache } from "../../reliability/cache/query-cache";
import { fileEventTypes, type FileEventType } from "../../contracts/events";

/**
 * The outbox path of invalidation, for crash safety: the mutation middleware invalidates right after
 * the commit, but a process can die between the commit and that Redis write (or Redis can be
 * unreachable at that moment). The file.* event commits in the same transaction as the change, so a
 * consumer of it invalidates again, retrying until Redis answers. Invalidating twice is harmless.
 *
 * Bound: a committed write is stale in the cache for at most the commit→invalidation gap (ms) in the
 * normal case, at most the outbox relay + this consumer's latency if the direct invalidation was
 * lost, and at most the entry's TTL (+ SWR window) if both were lost.
 */
export const FILE_EVENT_TYPES: ReadonlyArray<FileEventType> = fileEventTypes;
export type { FileEventType };

// Every file event's payload carries these two (contracts/events.ts): all the cache needs of it.
const payloadSchema = z.object({ fileId: z.uuid(), ownerId: z.uuid() }).transform((p) => ({ id: p.fileId, ownerId: p.ownerId }));

export interface FileEventLike {
  type: string;
  payload: unknown;
}

/**
 * Tags to invalidate for an outbox event: [] for event types the cache does not care about.
 * Throws for a file event whose payload lacks the file or owner id (a producer bug worth seeing:
 * silently skipping it would leave stale entries until their TTL).
 */
export function tagsForFileEvent(event: FileEventLike): string[] {
  if (!(FILE_EVENT_TYPES as ReadonlyArray<string>).includes(event.type)) return [];
  const parsed = payloadSchema.safeParse(event.payload);
  if (!parsed.success) {
    throw new Error(`Cannot invalidate the cache for ${event.type}: its payload needs the file id and owner id (${z.prettifyError(parsed.error)})`);
  }
  return tagsForFileChange(parsed.data);
}

/**
 * For the outbox consumer: invalidate what a file event touched. Throws if Redis did not take the
 * invalidation, so the consumer's job fails and is retried (that retry is the crash-safety guarantee).
 */
export async function invalidateForFileEvent(cache: Pick<QueryCache, "invalidate">, event: FileEventLike): Promise<{ tags: string[] }> {
  const tags = tagsForFileEvent(event);
  if (tags.length === 0) return { tags };
  const { ok } = await cache.invalidate(tags);
  if (!ok) throw new Error(`Redis did not take the cache invalidation for ${event.type} (${tags.join(", ")}); retry the event`);
  return { tags };
}
