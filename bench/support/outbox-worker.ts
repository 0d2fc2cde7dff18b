/**
 * The consumer side of a bench worker process (bench/outbox-runner.ts, bench/scale-runner.ts):
 * MetaStore's outbox consumer worker with one no-op batchable consumer, so the outbox machinery is
 * what is measured. `onEvent` sees each event the consumer handles.
 */
import type { ConnectionOptions } from "bullmq";
import type { Logger } from "~/server/platform/logger";
import type { Db } from "~/server/platform/db/client";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";
import { startOutboxConsumers } from "../../worker/jobs/outbox-consumers";

export function startBenchConsumers(opts: { db: Db; connection: ConnectionOptions; prefix: string; logger: Logger; concurrency: number; inboxMaxBatch?: number; inboxMaxDelayMs?: number; onEvent?: (id: string) => void }) {
  const { onEvent } = opts;
  return startOutboxConsumers({
    db: opts.db,
    connection: opts.connection,
    prefix: opts.prefix,
    logger: opts.logger,
    storage: new LocalDiskStorage("/tmp/metastore-bench-storage"),
    consumers: [{ name: "bench", handles: ["file.tagged"], batchable: true, txFree: true, handle: async (event) => void onEvent?.(event.id) }],
    options: { concurrency: opts.concurrency, inboxMaxBatch: opts.inboxMaxBatch, inboxMaxDelayMs: opts.inboxMaxDelayMs },
  });
}
