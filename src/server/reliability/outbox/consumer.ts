import type { Db } from "~/server/platform/db/client";
import type { Tx } from "~/server/platform/db/transaction";
import type { DeliveredEvent } from "~/server/contracts/events";
import type { Logger } from "~/server/platform/logger";
import type { BlobStorage } from "~/server/platform/storage/blob-storage";

export interface ConsumerContext {
  /** The transaction the consumer's inbox row commits in: database effects belong in it. */
  tx: Tx;
  db: Db;
  storage: BlobStorage;
  logger: Logger;
}

/**
 * One consumer of outbox events. Its name keys the inbox, so renaming a consumer makes it handle
 * events again. handle() may run more than once for an event only if an earlier run did not commit:
 * effects outside the database (blobs) must be safe to repeat.
 */
export interface EventConsumer {
  name: string;
  handles: readonly string[];
  /**
   * Share a transaction with other events' handlers (createInboxBatcher): much higher throughput
   * for short database effects. Leave off for slow effects (reading and hashing files), which
   * would hold the shared transaction, and its row locks, open for everyone in the batch.
   */
  batchable?: boolean;
  /**
   * handle() never uses ctx.tx (its effects are outside the database, e.g. Redis): a batchable
   * consumer's inbox batch then commits on raw pg instead of an interactive Prisma transaction,
   * which costs the worker measurable CPU per batch. Using ctx.tx then throws.
   */
  txFree?: boolean;
  handle(event: DeliveredEvent, ctx: ConsumerContext): Promise<void>;
}
