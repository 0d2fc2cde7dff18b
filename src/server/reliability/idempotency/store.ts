import { randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import type { Db } from "../../platform/db/client";
import type { SideStatements } from "../../platform/db/side-pool";
import type { Tx } from "../../platform/db/transaction";
import type { IdempotencyOptions } from "./options";
import { deserializeOutcome, serializeOutcome, type StoredOutcome } from "./outcome";

/**
 * The idempotency record's life: claim → (execute → complete, in ONE transaction) or release.
 *
 *  - claim: one short statement of its own (committed at once) so that concurrent requests with
 *    the same key see `in_progress` while the first one runs. It carries a fresh claim token, and
 *    answers with the existing record when there is one (replay, mismatch, in progress). It runs
 *    on a small pool of its own, so it can travel while the mutation's transaction is opened.
 *  - complete: the last statement of the mutation's transaction, and only if the record still
 *    carries our token. The mutation's writes and the record commit or roll back together, and of
 *    two executions of one key (possible only if a lease ran out under a live request) at most one
 *    can commit: the other's completion matches no row and its whole transaction rolls back.
 *  - release: an unexpected failure deletes the claim so the client may retry at once.
 *  - recover: a claim whose lease has passed (its process died, which rolled its transaction
 *    back) is taken over by the next request with the key, under a new token. The lease outlasts
 *    the longest a live request can run (pool wait + transaction timeout; checked in env.js), so
 *    in practice a live request is never taken over.
 */

/** Proof of ownership of an in_progress record: its id and the token of this claim. */
export interface Claim {
  id: string;
  token: string;
  /** True when this claim took over a record left behind by a request that died. */
  recovered: boolean;
}

export type ClaimResult =
  | { kind: "claimed"; claim: Claim }
  /** Same key, same input, already completed: replay this. */
  | { kind: "replay"; outcome: StoredOutcome; responseStatus: number | null }
  /** Same key, still executing elsewhere (or its lease not yet run out). */
  | { kind: "in_progress"; retryAfterSeconds: number }
  /** Same key, different input. */
  | { kind: "mismatch" };

export interface ClaimRequest {
  scope: string;
  key: string;
  fingerprint: string;
  /** The claiming request's correlation id (the trace page starts from the record with it). */
  correlationId?: string;
}

/** The claim statement's one row: the new claim, or the existing record of the key. */
type ClaimRow = { id: string; claimed: true } | ExistingRow;

interface ExistingRow {
  id: string;
  claimed: false;
  fingerprint: string;
  state: "in_progress" | "completed";
  result: unknown;
  response_status: number | null;
  lease_ms_left: number | null;
  expired: boolean;
}

/** Claim attempts before answering "in progress": only a storm of releases could exhaust them. */
const MAX_CLAIM_ATTEMPTS = 5;

/**
 * The claim, one statement whatever the key's state: the claim, or (when the key exists) the record
 * it conflicts with, so a replay, a mismatch or an in_progress answer costs one round trip too.
 * DO NOTHING never waits on a running owner (its claim is committed), so a conflict is answered at
 * once. The record is read with the statement's snapshot: one committed after the statement began
 * (a claim that raced this one) is not seen, and the caller claims again.
 *
 * It commits with synchronous_commit off (for this statement's transaction only): no WAL flush on
 * the hot path (an fsync was most of the cost of a key, ~1.5 ms here). Safe: the mutation's own
 * transaction commits synchronously after this claim has committed (its completion needs the
 * claim's row), and so flushes the WAL up to and including it; a crash before that loses claim and
 * mutation together, and a lost claim is just a key never seen.
 *
 * created_at is when the request reached the claim, by this process's clock ($9, taken before the
 * claim and the mutation's BEGIN are sent), never later than the claim's own now(): the mutation's
 * rows carry its transaction's start, which may come before the claim's statement, and a trace
 * orders a request before what it did by these times. The record's TTL counts from it.
 *
 * $1 id, $2 scope, $3 key, $4 fingerprint, $5 lease ms, $6 token, $7 ttl ms, $8 correlation id, $9 request time.
 */
const CLAIM_SQL = `
  WITH no_flush AS (SELECT set_config('synchronous_commit', 'off', true)),
  claimed AS (
    INSERT INTO idempotency_key (id, scope, key, fingerprint, state, lease_until, claim_token, created_at, expires_at, correlation_id)
    SELECT $1::uuid, $2::text, $3::text, $4::text, 'in_progress',
           now() + $5::float8 * interval '1 millisecond', $6::uuid,
           LEAST(now(), $9::timestamptz), LEAST(now(), $9::timestamptz) + $7::float8 * interval '1 millisecond', $8::text
    FROM no_flush
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING id)
  SELECT id::text, true AS claimed, NULL AS fingerprint, NULL AS state, NULL::jsonb AS result, NULL::int AS response_status, NULL::int AS lease_ms_left, false AS expired
  FROM claimed
  UNION ALL
  SELECT id::text, false, fingerprint, state::text, result, response_status,
         (EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::int, expires_at <= now()
  FROM idempotency_key
  WHERE scope = $2::text AND key = $3::text AND NOT EXISTS (SELECT 1 FROM claimed)`;

/**
 * Claim the key, or answer with what its record says. `sql` runs autocommitted statements: the
 * side pool (platform/db/side-pool.ts), so that the claim may be sent while its mutation's
 * transaction is being opened on the main pool.
 */
export async function claimIdempotencyKey(sql: SideStatements, request: ClaimRequest, options: IdempotencyOptions): Promise<ClaimResult> {
  const { scope, key, fingerprint } = request;
  const correlationId = request.correlationId ?? null;
  const requestedAt = new Date();
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const token = randomUUID();
    const [row] = await sql.rows<ClaimRow>(CLAIM_SQL, [uuidv7(), scope, key, fingerprint, options.leaseMs, token, options.ttlMs, correlationId, requestedAt]);
    if (row?.claimed) return { kind: "claimed", claim: { id: row.id, token, recovered: false } };
    // No row: the conflicting record committed after this statement's snapshot was taken, or it was
    // released (or cleaned up) in between: claim again.
    if (!row) continue;

    if (row.expired) {
      // An expired record is as good as absent (the clean-up job just has not reached it yet).
      if (await reclaimExpired(sql, row.id, fingerprint, token, options, correlationId, requestedAt)) {
        return { kind: "claimed", claim: { id: row.id, token, recovered: false } };
      }
      continue;
    }
    if (row.fingerprint !== fingerprint) return { kind: "mismatch" };
    if (row.state === "completed") {
      return { kind: "replay", outcome: deserializeOutcome(row.result), responseStatus: row.response_status };
    }
    if (row.lease_ms_left !== null && row.lease_ms_left < 0 && (await takeOverAbandoned(sql, row.id, token, options, correlationId))) {
      return { kind: "claimed", claim: { id: row.id, token, recovered: true } };
    }
    // A typical mutation takes milliseconds; a one-second hint keeps polite clients from hammering.
    return { kind: "in_progress", retryAfterSeconds: 1 };
  }
  return { kind: "in_progress", retryAfterSeconds: 1 };
}

/**
 * Take over an in_progress record whose lease has passed. SKIP LOCKED: if a transaction holds the
 * row (its owner is completing it right now, or another request is taking it over), leave it alone.
 */
async function takeOverAbandoned(sql: SideStatements, id: string, token: string, options: IdempotencyOptions, correlationId: string | null): Promise<boolean> {
  const count = await sql.count(
    `UPDATE idempotency_key
     SET claim_token = $2::uuid, correlation_id = COALESCE($3::text, correlation_id), lease_until = now() + $4::float8 * interval '1 millisecond'
     WHERE id = (
       SELECT id FROM idempotency_key
       WHERE id = $1::uuid AND state = 'in_progress' AND lease_until < now()
       FOR UPDATE SKIP LOCKED)`,
    [id, token, correlationId, options.leaseMs],
  );
  return count === 1;
}

/** Reuse the row of an expired record as a fresh claim (any input: the old binding has lapsed). */
async function reclaimExpired(
  sql: SideStatements,
  id: string,
  fingerprint: string,
  token: string,
  options: IdempotencyOptions,
  correlationId: string | null,
  requestedAt: Date,
): Promise<boolean> {
  const count = await sql.count(
    `UPDATE idempotency_key
     SET fingerprint = $2::text, correlation_id = $3::text, state = 'in_progress', result = NULL, response_status = NULL, completed_at = NULL,
         claim_token = $4::uuid, lease_until = now() + $5::float8 * interval '1 millisecond',
         created_at = LEAST(now(), $7::timestamptz), expires_at = LEAST(now(), $7::timestamptz) + $6::float8 * interval '1 millisecond'
     WHERE id = (
       SELECT id FROM idempotency_key WHERE id = $1::uuid AND expires_at <= now()
       FOR UPDATE SKIP LOCKED)`,
    [id, fingerprint, correlationId, token, options.leaseMs, options.ttlMs, requestedAt],
  );
  return count === 1;
}

/**
 * Store the outcome, if the claim is still ours (false: another request took the key over).
 *  - with the mutation's transaction, for a success: same commit as the writes (durable with them);
 *  - with the plain client, for a stored error (the mutation's writes were rolled back): `flush:
 *    false` skips the WAL flush, since losing it in a crash only means the failing request runs
 *    again (and its claim is recovered after the lease). Never pass `flush: false` with a
 *    transaction: the setting would apply to the mutation's whole commit.
 */
export async function completeClaim(
  dbOrTx: Db | Tx,
  claim: Claim,
  outcome: StoredOutcome,
  responseStatus: number,
  opts: { flush?: boolean } = {},
): Promise<boolean> {
  const result = JSON.stringify(serializeOutcome(outcome));
  const count =
    opts.flush === false
      ? await dbOrTx.$executeRaw`
          WITH no_flush AS (SELECT set_config('synchronous_commit', 'off', true))
          UPDATE idempotency_key
          SET state = 'completed', result = ${result}::jsonb, response_status = ${responseStatus}::int,
              completed_at = now(), lease_until = NULL, claim_token = NULL
          FROM no_flush
          WHERE id = ${claim.id}::uuid AND claim_token = ${claim.token}::uuid AND state = 'in_progress'`
      : await dbOrTx.$executeRaw`
          UPDATE idempotency_key
          SET state = 'completed', result = ${result}::jsonb, response_status = ${responseStatus}::int,
              completed_at = now(), lease_until = NULL, claim_token = NULL
          WHERE id = ${claim.id}::uuid AND claim_token = ${claim.token}::uuid AND state = 'in_progress'`;
  return count === 1;
}

/**
 * Forget the claim (after an unexpected failure) so that a retry executes afresh. No WAL flush: a
 * release lost in a crash leaves an in_progress claim, which is recovered after its lease.
 */
export async function releaseClaim(db: Db, claim: Claim): Promise<boolean> {
  const count = await db.$executeRaw`
    WITH no_flush AS (SELECT set_config('synchronous_commit', 'off', true))
    DELETE FROM idempotency_key USING no_flush
    WHERE id = ${claim.id}::uuid AND claim_token = ${claim.token}::uuid AND state = 'in_progress'`;
  return count === 1;
}
