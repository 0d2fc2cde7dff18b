import type { QueryCache } from "~/server/reliability/cache";
import { FILE_EVENT_TYPES, invalidateForFileEvent } from "../cache-events";
import type { EventConsumer } from "../../../reliability/outbox/consumer";

/**
 * file.* → drop the query-cache entries the change touched. The request that made the change
 * already invalidated right after its commit; this is the crash-safe second path (the event exists
 * whenever the change committed), and it throws while Redis refuses, so the job retries until the
 * invalidation lands. Invalidating twice is harmless, so sharing a transaction is fine.
 */
export function createCacheInvalidator(cache: Pick<QueryCache, "invalidate">): EventConsumer {
  return {
    name: "cache-invalidator",
    handles: FILE_EVENT_TYPES,
    batchable: true,
    txFree: true,
    async handle(event) {
      await invalidateForFileEvent(cache, event);
    },
  };
}
