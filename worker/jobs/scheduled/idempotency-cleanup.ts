import type { ConnectionOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import { deleteExpiredIdempotencyKeys } from "~/server/reliability/idempotency/operations";
import type { Logger } from "~/server/platform/logger";
import { QueueName } from "~/server/contracts/queues";
import { startScheduledJob } from "./scheduled-job";

/**
 * Every few minutes, delete expired Idempotency-Key records in batches (see
 * deleteExpiredIdempotencyKeys). Running it twice is harmless: it deletes what has expired.
 */
export function startIdempotencyCleanup(opts: {
  connection: ConnectionOptions;
  prefix: string;
  db: Db;
  logger: Logger;
  everyMs: number;
  batchSize?: number;
}) {
  return startScheduledJob({
    queue: QueueName.idempotencyCleanup,
    everyMs: opts.everyMs,
    data: { batchSize: opts.batchSize ?? 1000 },
    connection: opts.connection,
    prefix: opts.prefix,
    logger: opts.logger,
    async run({ batchSize }) {
      const result = await deleteExpiredIdempotencyKeys(opts.db, { batchSize });
      if (result.deleted > 0) opts.logger.info(result, "expired idempotency records deleted");
      return result;
    },
  });
}
