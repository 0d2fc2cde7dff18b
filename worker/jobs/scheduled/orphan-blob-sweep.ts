import type { ConnectionOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import { sweepOrphanBlobs } from "~/server/features/files/orphan-blobs";
import type { Logger } from "~/server/platform/logger";
import { QueueName } from "~/server/contracts/queues";
import type { BlobStorage } from "~/server/platform/storage/blob-storage";
import { startScheduledJob } from "./scheduled-job";

/** Every `everyMs`, remove blobs older than `graceMs` that no live file or resumable saga needs. */
export function startOrphanBlobSweep(opts: {
  connection: ConnectionOptions;
  prefix: string;
  db: Db;
  storage: BlobStorage;
  logger: Logger;
  everyMs: number;
  graceMs: number;
  maxDeletes?: number;
}) {
  return startScheduledJob({
    queue: QueueName.orphanBlobSweep,
    everyMs: opts.everyMs,
    data: { graceMs: opts.graceMs, maxDeletes: opts.maxDeletes ?? 1000 },
    connection: opts.connection,
    prefix: opts.prefix,
    logger: opts.logger,
    async run({ graceMs, maxDeletes }) {
      const result = await sweepOrphanBlobs({ db: opts.db, storage: opts.storage }, { olderThan: new Date(Date.now() - graceMs), maxDeletes });
      if (result.skipped) opts.logger.error({ reason: result.skipped }, "orphan blob sweep refused: STORAGE_DIR is shared with another database");
      if (result.deleted > 0) opts.logger.info({ deleted: result.deleted, scanned: result.scanned, keys: result.keys.slice(0, 20) }, "orphan blobs removed");
      return { scanned: result.scanned, deleted: result.deleted, skipped: result.skipped ?? null };
    },
  });
}
