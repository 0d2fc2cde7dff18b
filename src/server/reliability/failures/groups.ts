import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Db } from "../../platform/db/client";
import { recordAfterEffect, type AuditContext } from "../audit";
import { DomainError } from "../../platform/errors";
import { actOnMatching } from "../outbox/operations";
import type { SagaOperations } from "../saga/operations";
import { errorSignature, UNFINGERPRINTED } from "./fingerprint";

/**
 * Failure groups: failed/dead outbox events and failed/compensated sagas grouped by the error
 * fingerprint stored with their latest failure. The GROUP BY reads only the partial indexes of
 * failing rows (outbox_event_failure_group_idx, saga_instance_failure_group_idx), so its cost
 * follows the number of failures, never the size of the tables.
 */
export const failureSources = ["outbox", "saga"] as const;
export type FailureSource = (typeof failureSources)[number];
export const fingerprintSchema = z.string().regex(/^[0-9a-f]{32}$/, "fingerprint is the 32 hex characters of a failure group");


export interface FailureGroup {
  source: FailureSource;
  fingerprint: string;
  count: number;
  firstSeen: Date | null;
  lastSeen: Date | null;
  /** Event types (outbox) or saga types affected. */
  types: string[];
  /** By status (failed / dead / compensated). */
  byStatus: Record<string, number>;
  errorClass: string;
  message: string;
  frame: string | null;
  sample: { id: string; error: string | null };
}

type GroupRow = { fingerprint: string | null; n: number; first_seen: Date | null; last_seen: Date | null; types: string[]; statuses: Record<string, number>; sample_id: string };

export async function listFailureGroups(db: Db, opts: { source?: FailureSource; limit: number }): Promise<FailureGroup[]> {
  const groups: FailureGroup[] = [];
  if (opts.source !== "saga") {
    const rows = await db.$queryRaw<GroupRow[]>`
      SELECT g.fingerprint, g.n, g.first_seen, g.last_seen, g.types, g.sample_id,
             (SELECT jsonb_object_agg(status, c) FROM (SELECT status::text, count(*)::int AS c FROM outbox_event o
               WHERE o.failure_fingerprint IS NOT DISTINCT FROM g.fingerprint AND o.status IN ('failed', 'dead') GROUP BY 1) s) AS statuses
      FROM (
        SELECT failure_fingerprint AS fingerprint, count(*)::int AS n, min(last_failed_at) AS first_seen, max(last_failed_at) AS last_seen,
               array_agg(DISTINCT event_type) AS types, max(id::text)::uuid::text AS sample_id
        FROM outbox_event WHERE status IN ('failed', 'dead')
        GROUP BY failure_fingerprint ORDER BY count(*) DESC LIMIT ${opts.limit}
      ) g`;
    const samples = await db.outboxEvent.findMany({ where: { id: { in: rows.map((r) => r.sample_id) } }, select: { id: true, lastError: true, lastErrorStack: true } });
    const byId = new Map(samples.map((s) => [s.id, s]));
    for (const r of rows) {
      const sample = byId.get(r.sample_id);
      groups.push(toGroup("outbox", r, sample?.lastError ?? null, sample?.lastErrorStack ?? null));
    }
  }
  if (opts.source !== "outbox") {
    const rows = await db.$queryRaw<GroupRow[]>`
      SELECT g.fingerprint, g.n, g.first_seen, g.last_seen, g.types, g.sample_id,
             (SELECT jsonb_object_agg(status, c) FROM (SELECT status::text, count(*)::int AS c FROM saga_instance s
               WHERE s.failure_fingerprint IS NOT DISTINCT FROM g.fingerprint AND s.status IN ('failed', 'compensated') GROUP BY 1) x) AS statuses
      FROM (
        SELECT failure_fingerprint AS fingerprint, count(*)::int AS n, min(updated_at) AS first_seen, max(updated_at) AS last_seen,
               array_agg(DISTINCT type) AS types, max(id::text)::uuid::text AS sample_id
        FROM saga_instance WHERE status IN ('failed', 'compensated')
        GROUP BY failure_fingerprint ORDER BY count(*) DESC LIMIT ${opts.limit}
      ) g`;
    const samples = await db.sagaInstance.findMany({ where: { id: { in: rows.map((r) => r.sample_id) } }, select: { id: true, lastError: true } });
    const byId = new Map(samples.map((s) => [s.id, s]));
    for (const r of rows) groups.push(toGroup("saga", r, byId.get(r.sample_id)?.lastError ?? null, null));
  }
  return groups.sort((a, b) => b.count - a.count).slice(0, opts.limit);
}

function toGroup(source: FailureSource, r: GroupRow, error: string | null, stack: string | null): FailureGroup {
  const signature = errorSignature({ message: error ?? "", stack });
  return {
    source,
    fingerprint: r.fingerprint ?? UNFINGERPRINTED,
    count: r.n,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    types: [...r.types].sort(),
    byStatus: r.statuses ?? {},
    ...signature,
    sample: { id: r.sample_id, error },
  };
}

/** Saga groups are acted on saga by saga (each its own audited redrive): at most this many per call. */
const MAX_SAGAS_PER_GROUP_ACTION = 5_000;

/**
 * Retry a whole group. Outbox: every failed or dead event of the group gets a fresh set of
 * attempts, in batches (each with its audit row, all under one correlation id). Sagas: each saga
 * is redriven (run forward again from its first step not in effect), each in its own audited
 * transaction; a saga that moved meanwhile, or whose type this server does not know, is skipped.
 */
export async function retryFailureGroup(
  deps: { db: Db; sagas: () => SagaOperations },
  group: { source: FailureSource; fingerprint: string },
  audit: AuditContext,
) {
  const correlated = { ...audit, correlationId: audit.correlationId ?? randomUUID() };
  const fp = group.fingerprint === UNFINGERPRINTED ? null : group.fingerprint;
  if (group.source === "outbox") {
    const dryRunCount = await deps.db.outboxEvent.count({ where: { failureFingerprint: fp, status: { in: ["failed", "dead"] } } });
    const { affected, batches } = await actOnMatching(
      deps.db,
      { fingerprint: group.fingerprint },
      { verb: "retry", batchSize: 500, maxEvents: 10_000_000, action: "failures.retryGroup", extraTargetIds: [group.fingerprint], dryRunCount },
      correlated,
    );
    return { source: group.source, fingerprint: group.fingerprint, matched: dryRunCount, affected, skipped: dryRunCount - affected, batches, correlationId: correlated.correlationId };
  }
  const ids = (
    await deps.db.sagaInstance.findMany({
      where: { failureFingerprint: fp, status: { in: ["failed", "compensated"] } },
      orderBy: { id: "asc" },
      take: MAX_SAGAS_PER_GROUP_ACTION,
      select: { id: true },
    })
  ).map((r) => r.id);
  let affected = 0;
  const skipped: Array<{ id: string; why: string }> = [];
  const ops = deps.sagas();
  for (const id of ids) {
    try {
      await ops.redrive(id, correlated);
      affected++;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      skipped.push({ id, why: error.message });
    }
  }
  // Each redrive wrote its own row (same correlation id); this one says what the group action did.
  await recordAfterEffect(deps.db, { ...correlated, action: "failures.retryGroup", targetKind: "saga", targetIds: [group.fingerprint], dryRunCount: ids.length, affectedCount: affected });
  return { source: group.source, fingerprint: group.fingerprint, matched: ids.length, affected, skipped: skipped.length, skippedSample: skipped.slice(0, 5), batches: ids.length, correlationId: correlated.correlationId };
}

/** Discard every pending, failed or dead event of an outbox group (sagas have nothing to discard). */
export async function discardFailureGroup(db: Db, group: { source: FailureSource; fingerprint: string }, audit: AuditContext) {
  if (group.source !== "outbox") {
    throw new DomainError("bad_input", "Only outbox failure groups can be discarded: a failed saga is retried (redriven) or aborted, not discarded");
  }
  const fp = group.fingerprint === UNFINGERPRINTED ? null : group.fingerprint;
  const correlated = { ...audit, correlationId: audit.correlationId ?? randomUUID() };
  const dryRunCount = await db.outboxEvent.count({ where: { failureFingerprint: fp, status: { in: ["failed", "dead"] } } });
  const { affected, batches } = await actOnMatching(
    db,
    { fingerprint: group.fingerprint, status: ["failed", "dead"] },
    { verb: "discard", batchSize: 500, maxEvents: 10_000_000, action: "failures.discardGroup", extraTargetIds: [group.fingerprint], dryRunCount },
    correlated,
  );
  return { source: group.source, fingerprint: group.fingerprint, matched: dryRunCount, affected, skipped: dryRunCount - affected, batches, correlationId: correlated.correlationId };
}
