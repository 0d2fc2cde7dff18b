import type { Tx } from "../../platform/db/transaction";

/**
 * Exactly-once side effects for saga steps. A step calls `recordEffect` in the SAME transaction as
 * the database effect it makes (reserve quota, insert a row): if the transaction commits, the
 * record says so; if the worker dies before the step's result is saved, the retry finds the record
 * and skips the effect. `undoEffect` is the compensation's counterpart: it returns the recorded
 * data only to the one call that flips it to undone, so an effect is reversed at most once.
 * `handOverEffect` ends the saga's responsibility for an effect that something else now owns (the
 * quota reserved for an upload belongs to the file once its row exists): the compensation then
 * finds nothing to undo, and the new owner releases it (exactly once, by its own rule).
 */

/** True if this call recorded the effect (do it now); false if it was already recorded (done before). */
export async function recordEffect(tx: Tx, executionId: string, effect: string, data: unknown = null): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`
    INSERT INTO saga_effect (execution_id, effect, data) VALUES (${executionId}, ${effect}, ${JSON.stringify(data)}::jsonb)
    ON CONFLICT (execution_id, effect) DO NOTHING
    RETURNING 1`;
  return rows.length === 1;
}

/** The effect's data if this call marked it undone; null if it was never made or is already undone. */
export async function undoEffect<T = unknown>(tx: Tx, executionId: string, effect: string): Promise<T | null> {
  const rows = await tx.$queryRaw<Array<{ data: T }>>`
    UPDATE saga_effect SET undone_at = now()
    WHERE execution_id = ${executionId} AND effect = ${effect} AND undone_at IS NULL
    RETURNING data`;
  return rows[0]?.data ?? null;
}

/**
 * Hand the effect over to its new owner, in the transaction that creates that owner: marked undone
 * (with `handedOverTo` in its data) so this saga's compensation never reverses it. True if this
 * call handed it over; false if it was never recorded, or already undone or handed over.
 */
export async function handOverEffect(tx: Tx, executionId: string, effect: string, to: string): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`
    UPDATE saga_effect SET undone_at = now(), data = COALESCE(data, '{}'::jsonb) || jsonb_build_object('handedOverTo', ${to}::text)
    WHERE execution_id = ${executionId} AND effect = ${effect} AND undone_at IS NULL
    RETURNING 1`;
  return rows.length === 1;
}
