import type { Db } from "../../platform/db/client";

export interface CleanupResult {
  deleted: number;
  batches: number;
}

/**
 * Delete expired records in small batches, each its own short statement, so the clean-up never
 * holds many row locks or one long transaction next to live traffic. SKIP LOCKED passes over a
 * record a running request holds, and over rows another clean-up run is deleting right now.
 */
export async function deleteExpiredIdempotencyKeys(
  db: Db,
  opts: { batchSize?: number; maxBatches?: number } = {},
): Promise<CleanupResult> {
  const batchSize = opts.batchSize ?? 1000;
  const maxBatches = opts.maxBatches ?? 100;
  let deleted = 0;
  let batches = 0;
  while (batches < maxBatches) {
    const count = await db.$executeRaw`
      DELETE FROM idempotency_key WHERE id IN (
        SELECT id FROM idempotency_key WHERE expires_at <= now()
        ORDER BY expires_at LIMIT ${batchSize}::int
        FOR UPDATE SKIP LOCKED)`;
    batches++;
    deleted += count;
    if (count < batchSize) break;
  }
  return { deleted, batches };
}
