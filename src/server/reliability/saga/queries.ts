import type { Db, Prisma } from "../../platform/db/client";
import { notFound } from "../../platform/errors";
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
  finishedAt: true,
} satisfies Prisma.SagaInstanceSelect;

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
}

/** How many step attempts a timeline shows (newest first). */
export const ATTEMPTS_SHOWN = 200;

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
      const items = rows.slice(0, filter.limit);
      return { items, nextCursor: rows.length > filter.limit ? (items.at(-1)?.id ?? null) : null };
    },

    /** One saga with every step and compensation, in the order they started. */
    async timeline(id: string) {
      const saga = await db.sagaInstance.findUnique({
        where: { id },
        select: { ...sagaSummarySelect, input: true, context: true, forkedFrom: true, forkedFromStep: true },
      });
      if (!saga) throw notFound(`Saga ${id} was not found`);
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

    async metrics(filter: { type?: string; since?: Date } = {}): Promise<SagaMetrics> {
      const type = filter.type ?? null;
      const since = filter.since ?? new Date(0);
      const byStatusRows = await db.$queryRaw<Array<{ status: SagaStatus; n: number }>>`
        SELECT status, count(*)::int AS n FROM saga_instance
        WHERE (${type}::text IS NULL OR type = ${type}::text) AND created_at >= ${since}
        GROUP BY status`;
      const [stats] = await db.$queryRaw<Array<{ p50: number | null; p95: number | null; avg_steps: number | null }>>`
        WITH done AS (
          SELECT id, EXTRACT(EPOCH FROM (finished_at - created_at)) * 1000 AS ms FROM saga_instance
          WHERE finished_at IS NOT NULL AND (${type}::text IS NULL OR type = ${type}::text) AND created_at >= ${since}
        )
        SELECT
          percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8 AS p50,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::float8 AS p95,
          (SELECT avg(n)::float8 FROM (
             SELECT count(l.id) AS n FROM done LEFT JOIN saga_step_log l ON l.saga_id = done.id AND l.phase = 'execute'
             GROUP BY done.id) per_saga) AS avg_steps
        FROM done`;
      const byStatus: Record<SagaStatus, number> = { running: 0, compensating: 0, completed: 0, compensated: 0, failed: 0, aborted: 0 };
      for (const row of byStatusRows) byStatus[row.status] = row.n;
      const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
      const finished = byStatus.completed + byStatus.compensated + byStatus.aborted + byStatus.failed;
      return {
        total,
        byStatus,
        successRate: finished ? byStatus.completed / finished : null,
        compensationRate: finished ? (byStatus.compensated + byStatus.aborted) / finished : null,
        avgSteps: stats?.avg_steps ?? null,
        durationMs: { p50: stats?.p50 ?? null, p95: stats?.p95 ?? null },
      };
    },
  };
}

export type SagaQueries = ReturnType<typeof createSagaQueries>;
