import type { Db } from "../../platform/db/client";

/**
 * Retention of saga step attempts (the timeline's history). Saga rows themselves are kept; only the
 * per-attempt history of sagas that finished before `olderThan` goes, in short batches (each its own
 * statement) so no lock is held for long. A saga still moving keeps all of its attempts (bounded by
 * its retry policy), and an attempt disappears with its saga (ON DELETE CASCADE) if sagas are deleted.
 */
export async function deleteExpiredSagaAttempts(db: Db, opts: { olderThan: Date; batchSize: number; maxBatches?: number }): Promise<number> {
  const maxBatches = opts.maxBatches ?? 1000;
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await db.$executeRaw`
      DELETE FROM saga_step_attempt WHERE id IN (
        SELECT a.id FROM saga_step_attempt a
        JOIN saga_instance s ON s.id = a.saga_id
        WHERE a.started_at < ${opts.olderThan} AND s.finished_at < ${opts.olderThan}
        LIMIT ${opts.batchSize})`;
    deleted += n;
    if (n < opts.batchSize) break;
  }
  return deleted;
}
