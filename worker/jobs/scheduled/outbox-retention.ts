import type { ConnectionOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import { deleteExpiredOutboxRows } from "~/server/reliability/outbox/retention";
import { deleteExpiredSagaAttempts } from "~/server/reliability/saga/retention";
import type { Logger } from "~/server/platform/logger";
import { QueueName } from "~/server/contracts/queues";
import { startScheduledJob } from "./scheduled-job";

/**
 * Outbox retention: every `everyMs`, delete published-and-consumed events and inbox rows older than
 * `retentionMs`, in batches of `batchSize` (short statements, no long locks). One sweep at a time,
 * whatever the number of workers, so the batches never contend.
 */
export function startOutboxRetention(deps: {
  db: Db;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  options: { retentionMs: number; everyMs: number; batchSize: number };
}) {
  const logger = deps.logger.child({ component: "outbox-retention" });
  return startScheduledJob({
    queue: QueueName.outboxRetention,
    everyMs: deps.options.everyMs,
    data: {},
    connection: deps.connection,
    prefix: deps.prefix,
    logger,
    async run() {
      const olderThan = new Date(Date.now() - deps.options.retentionMs);
      // Delivery attempts go with their events (ON DELETE CASCADE); saga step attempts on the same clock.
      const deleted = {
        ...(await deleteExpiredOutboxRows(deps.db, { olderThan, batchSize: deps.options.batchSize })),
        sagaAttempts: await deleteExpiredSagaAttempts(deps.db, { olderThan, batchSize: deps.options.batchSize }),
      };
      if (deleted.events || deleted.inbox || deleted.sagaAttempts) logger.info({ ...deleted, olderThan }, "outbox retention removed old rows");
      return deleted;
    },
  });
}
