import { blobReaper } from "../../src/server/features/files/consumers/blob-reaper";
import { fileInspector } from "../../src/server/features/files/consumers/file-inspector";
import type { EventConsumer } from "../../src/server/reliability/outbox/consumer";

export type { EventConsumer, ConsumerContext } from "../../src/server/reliability/outbox/consumer";
export { createCacheInvalidator } from "../../src/server/features/files/consumers/cache-invalidator";

/** The consumers the worker always runs (plus the cache invalidator when the cache is on). */
export const defaultConsumers: readonly EventConsumer[] = [fileInspector, blobReaper];
