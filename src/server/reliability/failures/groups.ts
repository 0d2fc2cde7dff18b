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
 * fingerprint stored with their latest failure. The counts come from failure_group_count, which
 * statement triggers on outbox_event and saga_instance keep in every writer's transaction (see the
 * migration 20261201100000_dashboard_scale_counters): the page reads one row per (group, type,
 * status), so its cost follows the number of groups, never the number of failures or the tables.
 */
export const failureSources = ["outbox", "saga"] as const;
export type FailureSource = (typeof failureSources)[number];
export const fingerprintSchema = z.string().regex(/^[0-9a-f]{32}$/, "fingerprint is the 32 hex characters of a failure group");


export interface FailureGroup {
  source: FailureSource;
  fingerprint: string;
  count: number;
  /** The earliest and latest failure time (outbox: last_failed_at; sagas: updated_at) of the group's members since its count was last zero. */
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

/** A group's counter rows folded together (one row per type and status). */
interface GroupTotals {
  source: FailureSource;
  /** '' for rows without a fingerprint (as the counter table keys them). */
  fingerprint: string;
  count: number;
  firstSeen: Date | null;
  lastSeen: Date | null;
  types: Set<string>;
  byStatus: Record<string, number>;
  sampleId: string | null;
}

const earlier = (a: Date | null, b: Date | null) => (a === null ? b : b === null || a <= b ? a : b);
const later = (a: Date | null, b: Date | null) => (a === null ? b : b === null || a >= b ? a : b);
const newer = (a: string | null, b: string | null) => (a === null ? b : b === null || a >= b ? a : b);

/** The counter rows of the sources asked for, folded per group, biggest first. */
async function groupTotals(db: Db, source: FailureSource | undefined): Promise<GroupTotals[]> {
  const rows = await db.failureGroupCount.findMany({ where: source ? { source } : {} });
  const groups = new Map<string, GroupTotals>();
  for (const r of rows) {
    const id = `${r.source}\u0000${r.fingerprint}`;
    const g = groups.get(id) ?? { source: r.source as FailureSource, fingerprint: r.fingerprint, count: 0, firstSeen: null, lastSeen: null, types: new Set<string>(), byStatus: {}, sampleId: null };
    g.count += r.count;
    g.firstSeen = earlier(g.firstSeen, r.firstSeen);
    g.lastSeen = later(g.lastSeen, r.lastSeen);
    g.types.add(r.type);
    g.byStatus[r.status] = (g.byStatus[r.status] ?? 0) + r.count;
    g.sampleId = newer(g.sampleId, r.sampleId);
    groups.set(id, g);
  }
  return [...groups.values()].filter((g) => g.count > 0).sort((a, b) => b.count - a.count || (a.fingerprint < b.fingerprint ? -1 : 1));
}

export async function listFailureGroups(db: Db, opts: { source?: FailureSource; limit: number }): Promise<FailureGroup[]> {
  const top = (await groupTotals(db, opts.source)).slice(0, opts.limit);
  const sampleIds = (source: FailureSource) => top.filter((g) => g.source === source && g.sampleId !== null).map((g) => g.sampleId!);
  const outboxIds = sampleIds("outbox");
  const sagaIds = sampleIds("saga");
  const outboxSamples = outboxIds.length
    ? await db.outboxEvent.findMany({ where: { id: { in: outboxIds } }, select: { id: true, lastError: true, lastErrorStack: true } })
    : [];
  const sagaSamples = sagaIds.length ? await db.sagaInstance.findMany({ where: { id: { in: sagaIds } }, select: { id: true, lastError: true } }) : [];
  const errors = new Map<string, { error: string | null; stack: string | null }>([
    ...outboxSamples.map((s) => [s.id, { error: s.lastError, stack: s.lastErrorStack }] as const),
    ...sagaSamples.map((s) => [s.id, { error: s.lastError, stack: null }] as const),
  ]);
  return top.map((g) => {
    const sample = g.sampleId ? errors.get(g.sampleId) : undefined;
    return toGroup(g, sample?.error ?? null, sample?.stack ?? null);
  });
}

function toGroup(g: GroupTotals, error: string | null, stack: string | null): FailureGroup {
  const signature = errorSignature({ message: error ?? "", stack });
  return {
    source: g.source,
    fingerprint: g.fingerprint === "" ? UNFINGERPRINTED : g.fingerprint,
    count: g.count,
    firstSeen: g.firstSeen,
    lastSeen: g.lastSeen,
    types: [...g.types].sort(),
    byStatus: g.byStatus,
    ...signature,
    sample: { id: g.sampleId ?? "", error },
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
