import { blobReaper } from "./blob-reaper";
import { fileInspector } from "./file-inspector";
import type { EventConsumer } from "./types";

export type { EventConsumer, ConsumerContext } from "./types";

/** The consumers the worker runs. */
export const defaultConsumers: readonly EventConsumer[] = [fileInspector, blobReaper];
