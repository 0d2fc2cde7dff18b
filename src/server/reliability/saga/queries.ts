import type { Db } from "../../platform/db/client";
import { Prisma } from "../../db/generated/client";
import { cappedCount } from "../../platform/db/capped-count";
import { notFound } from "../../platform/errors";
import { uuidv7Floor } from "../outbox/queries";
import type { SagaRegistry } from "./definition";
import { readContext, type SagaStatus } from "./types";

/** What operators read: lists, one saga's timeline, and the numbers for the dashboard. */

const sagaSummarySelect = {
  id: true,
  type: true,
  status: true,
  currentStep: true,
  lastError: true,
  correlationId: true,
  version: true,
  createdAt: true,
  updatedAt: true,
  progressedAt: true,
  finishedAt: true,
} satisfies Prisma.SagaInstanceSelect;

/**
 * What readers call "updated": the later of the status change (updated_at) and the last step's
 * finish (progressed_at, which steps write instead of updated_at to keep their UPDATE HOT).
 */
function lastChange<T extends { updatedAt: Date; progressedAt: Date | null }>(row: T): Omit<T, "progressedAt"> {
  const { progressedAt, ...rest } = row;
  return progressedAt && progressedAt > row.updatedAt ? { ...rest, updatedAt: progressedAt } : rest;
}

export interface SagaListFilter {
  status?: SagaStatus[];
  type?: string;
  correlationId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Text in the last error (case-insensitive). */
  error?: string;
  /** Keyset cursor: the id of the last saga of the previous page (ids are UUIDv7, so time-ordered). */
  cursor?: string;
  limit: number;
}

export interface SagaMetrics {
  total: number;
  byStatus: Record<SagaStatus, number>;
  /** Of finished sagas (completed, compensated, aborted, failed): share completed / compensated or aborted. */
  successRate: number | null;
  compensationRate: number | null;
  /** Execute steps run per finished saga. */
  avgSteps: number | null;
  durationMs: { p50: number | null; p95: number | null };
  /** Statuses whose count is the planner's estimate (past EXACT_COUNT_CAP: see platform/db/capped-count.ts); the total and rates then are too. */
  estimated: SagaStatus[];
  /** How many finished sagas (the latest) the durations and steps were taken from: at most DURATION_SAMPLE. */
  durationSample: number;
}

/** Durations and steps per saga are taken from at most this many of the latest finished sagas. */
export const DURATION_SAMPLE = 10_000;

/** How far before `since` a saga's id may have been taken (see metrics). */
const ID_SLACK_MS = 5 * 60_000;

/** How many step attempts a timeline shows (newest first). */
export const ATTEMPTS_SHOWN = 200;

/**
 * The index walk of each status's capped count. `completed` is where most sagas end, so its rows
 * are most of the table and lie in heap order (ids are UUIDv7): walking the primary key with the
 * status as a filter reads them in that order and stops at the cap. Walked through
 * (status, updated_at) instead, every row costs a heap fetch in another order until VACUUM has
 * marked the pages all-visible, and the planner then prices a Seq Scan + Sort cheaper (it did at
 * 10k sagas: saga-metrics-plan.test.ts). The rarer statuses keep (status, updated_at): it reads
 * exactly their rows, at most cap + 1 of them, without a sort.
 */
function countOrder(status: SagaStatus): Prisma.Sql {
  return status === "completed" ? Prisma.sql`id` : Prisma.sql`status, updated_at`;
}

export function createSagaQueries(deps: { db: Db; registry: SagaRegistry }) {
  const { db, registry } = deps;

  return {
    async list(filter: SagaListFilter) {
      const where: Prisma.SagaInstanceWhereInput = {
        ...(filter.status?.length ? { status: { in: filter.status } } : {}),
        ...(filter.type ? { type: filter.type } : {}),
        ...(filter.correlationId ? { correlationId: filter.correlationId } : {}),
        ...(filter.error ? { lastError: { contains: filter.error, mode: "insensitive" } } : {}),
        ...(filter.createdAfter || filter.createdBefore
          ? { createdAt: { ...(filter.createdAfter ? { gte: filter.createdAfter } : {}), ...(filter.createdBefore ? { lt: filter.createdBefore } : {}) } }
          : {}),
        ...(filter.cursor ? { id: { lt: filter.cursor } } : {}),
      };
      const rows = await db.sagaInstance.findMany({ where, orderBy: { id: "desc" }, take: filter.limit + 1, select: sagaSummarySelect });
      const items = rows.slice(0, filter.limit).map(lastChange);
      return { items, nextCursor: rows.length > filter.limit ? (items.at(-1)?.id ?? null) : null };
    },

    /** One saga with every step and compensation, in the order they started. */
    async timeline(id: string) {
      const found = await db.sagaInstance.findUnique({
        where: { id },
        select: { ...sagaSummarySelect, input: true, context: true, forkedFrom: true, forkedFromStep: true },
      });
      if (!found) throw notFound(`Saga ${id} was not found`);
      const saga = lastChange(found);
      // Every attempt of every step (newest first, bounded: the retry policy bounds them per run;
      // the cap keeps a saga redriven many times from growing the page).
      const stepAttempts = await db.sagaStepAttempt.findMany({
        where: { sagaId: id },
        orderBy: [{ startedAt: "desc" }, { id: "desc" }],
        take: ATTEMPTS_SHOWN,
        select: { stepIndex: true, stepName: true, phase: true, generation: true, attempt: true, outcome: true, startedAt: true, durationMs: true, error: true, worker: true },
      });
      const forks = await db.sagaInstance.findMany({
        where: { forkedFrom: id },
        orderBy: { id: "desc" },
        take: 20,
        select: { id: true, status: true, forkedFromStep: true, createdAt: true },
      });
      const steps = await db.sagaStepLog.findMany({
        where: { sagaId: id },
        orderBy: [{ startedAt: "asc" }, { stepIndex: "asc" }],
        select: { stepIndex: true, stepName: true, phase: true, status: true, attempts: true, executionId: true, startedAt: true, finishedAt: true, output: true, error: true },
      });
      const def = registry.get(saga.type);
      const context = readContext(saga.context);
      return {
        ...saga,
        generation: context.generation,
        abortRequested: context.abortRequested === true,
        /** The declared steps, so a page can show the ones that have not run yet. */
        definedSteps: def ? def.steps.map((s, index) => ({ index, name: s.name, compensable: Boolean(s.compensate) })) : null,
        steps: steps.map((s) => ({
          ...s,
          durationMs: s.finishedAt ? s.finishedAt.getTime() - s.startedAt.getTime() : null,
        })),
        stepAttempts,
        forks,
      };
    },

    /**
     * Counts by status, rates and durations, at a cost that does not grow with the history: each
     * status is counted exactly up to EXACT_COUNT_CAP and estimated past it (`estimated`), and
     * durations and steps come from the latest DURATION_SAMPLE finished sagas (`durationSample`).
     */
    async metrics(filter: { type?: string; since?: Date } = {}): Promise<SagaMetrics> {
      const type = filter.type ? Prisma.sql` AND type = ${filter.type}` : Prisma.empty;
      // Ids are UUIDv7, so a time bound is an id bound: it lets `since` walk a range of the primary
      // key instead of testing created_at on every row. A saga's id is taken in the app *before*
      // its INSERT (created_at is the database's now(), of the caller's transaction if any, on
      // another clock): the id bound is widened by ID_SLACK_MS so it never cuts off a saga that
      // created_at keeps; created_at stays the exact condition.
      const since = filter.since
        ? Prisma.sql` AND created_at >= ${filter.since} AND id >= ${uuidv7Floor(new Date(filter.since.getTime() - ID_SLACK_MS))}::uuid`
        : Prisma.empty;
      const byStatus: Record<SagaStatus, number> = { running: 0, compensating: 0, completed: 0, compensated: 0, failed: 0, aborted: 0 };
      const estimated: SagaStatus[] = [];
      for (const status of Object.keys(byStatus) as SagaStatus[]) {
        // The status as a literal (from the fixed list above): the planner's per-value statistics
        // then give the estimate for this status.
        const counted = await cappedCount(db, Prisma.sql`saga_instance WHERE status = ${Prisma.raw(`'${status}'`)}${type}${since}`, countOrder(status));
        byStatus[status] = counted.count;
        if (counted.approximate) estimated.push(status);
      }
      const [stats] = await db.$queryRaw<Array<{ p50: number | null; p95: number | null; avg_steps: number | null; n: number }>>`
        WITH done AS (
          SELECT id, EXTRACT(EPOCH FROM (finished_at - created_at)) * 1000 AS ms FROM saga_instance
          WHERE finished_at IS NOT NULL${type}${since}
          ORDER BY id DESC LIMIT ${DURATION_SAMPLE}
        )
        SELECT
          percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8 AS p50,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::float8 AS p95,
          count(*)::int AS n,
          (SELECT avg(n)::float8 FROM (
             SELECT count(l.id) AS n FROM done LEFT JOIN saga_step_log l ON l.saga_id = done.id AND l.phase = 'execute'
             GROUP BY done.id) per_saga) AS avg_steps
        FROM done`;
      const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
      const finished = byStatus.completed + byStatus.compensated + byStatus.aborted + byStatus.failed;
      return {
        total,
        byStatus,
        estimated,
        successRate: finished ? byStatus.completed / finished : null,
        compensationRate: finished ? (byStatus.compensated + byStatus.aborted) / finished : null,
        avgSteps: stats?.avg_steps ?? null,
        durationMs: { p50: stats?.p50 ?? null, p95: stats?.p95 ?? null },
        durationSample: stats?.n ?? 0,
      };
    },
  };
}

export type SagaQueries = ReturnType<typeof createSagaQueries>;
