import { blobReaper } from "./blob-reaper";
import { fileInspector } from "./file-inspector";
import type { EventConsumer } from "./types";

export type { EventConsumer, ConsumerContext } from "./types";
export { createCacheInvalidator } from "./cache-invalidator";

/** The consumers the worker always runs (plus the cache invalidator when the cache is on). */
export const defaultConsumers: readonly EventConsumer[] = [fileInspector, blobReaper];
