/**
 * The domain services a request reaches, built once per process from its infrastructure (by
 * composition.ts) and carried on the tRPC context: a router calls `ctx.<service>.<operation>`
 * and passes only what belongs to the request (the caller, its input, the audit context, the
 * event headers). The mechanisms' free functions take the database first; here they are bound
 * to the process's parts once, so no router builds a service or reaches for `ctx.db`.
 */
import { createFilesServiceWithOutbox } from "./features/files/files-outbox";
import { createUploadService } from "./features/files/upload-service";
import { createUserAdmin } from "./features/users/user-admin";
import { createConsoleSearch } from "./features/console-search/console-search";
import type { EventHeaders } from "./contracts/events";
import type { UploadRequest } from "./features/files/upload-request";
import type { SessionManager } from "./auth/session";
import type { Db } from "./platform/db/client";
import { inTransaction } from "./platform/db/transaction";
import type { Logger } from "./platform/logger";
import { requestScopedLog, type ServiceLog } from "./platform/request-logger";
import { queuePrefix, type RedisClient } from "./platform/redis";
import type { BlobStorage } from "./platform/storage/blob-storage";
import { recordAfterEffect, recordOperatorAction, searchAudit, type AuditContext, type AuditSearch, type TransactionOnly } from "./reliability/audit";
import type { BulkRequest } from "./reliability/bulk/contract";
import { cancelBulk, dryRunBulkRequest, getBulk, listBulk, startBulk } from "./reliability/bulk/operations";
import { bulkQueueFor } from "./reliability/bulk/queue";
import type { QueryCache } from "./reliability/cache/query-cache";
import { withDeadline } from "./reliability/cache/deadline";
import { discardFailureGroup, listFailureGroups, retryFailureGroup, type FailureSource } from "./reliability/failures/groups";
import { applyPause, desiredPauses, fleetQueuesFor, listWorkers, MISSED_BEATS_BEFORE_GONE, readQueueStates, setDesiredPause, type PausableQueue } from "./reliability/fleet";
import { deleteExpiredIdempotencyKeys } from "./reliability/idempotency/operations";
import { createIdempotencyMetrics, hitRate } from "./reliability/idempotency/metrics";
import { countRecordsByState, listIdempotencyRecords } from "./reliability/idempotency/queries";
import { discardEvent, retryEvent, retryMatching } from "./reliability/outbox/operations";
import { blockedAggregates, getEvent, listEvents, outboxStats, type OutboxFilter } from "./reliability/outbox/queries";
import { replayEventWithPayload } from "./reliability/outbox/replay";
import { createLiveFeeds } from "./reliability/live/live-feeds";
import { createTraceQuery } from "./reliability/trace/trace-query";
import { webSagaService } from "./app-sagas";

/** The infrastructure the domain services are built over (AppServices without the services themselves). */
export interface DomainInfrastructure {
  db: Db;
  redis: RedisClient;
  storage: BlobStorage;
  sessions: SessionManager;
  logger: Logger;
  cache?: QueryCache;
  config: { queuePrefix: string; outboxStalledAfterMs?: number; livePollIntervalMs?: number };
}

/** Files: the owner's reads, and writes that commit their outbox event with the change. */
function filesService(infra: DomainInfrastructure) {
  // The event headers belong to the request (correlation id, Idempotency-Key, trace context).
  const writing = (headers: EventHeaders) => createFilesServiceWithOutbox(infra, { headers });
  const reads = createFilesServiceWithOutbox(infra);
  return {
    list: reads.list,
    get: reads.get,
    upload: (request: UploadRequest, headers: EventHeaders) => writing(headers).upload(request),
    rename: (ownerId: string, id: string, name: string, headers: EventHeaders) => writing(headers).rename(ownerId, id, name),
    setTags: (ownerId: string, id: string, tags: string[], headers: EventHeaders) => writing(headers).setTags(ownerId, id, tags),
    remove: (ownerId: string, id: string, headers: EventHeaders) => writing(headers).remove(ownerId, id),
  };
}

/** admin.outbox: the outbox's operator reads and actions, with the process's stalled-after setting. */
function outboxOperations({ db, config }: DomainInfrastructure) {
  const stalled = { stalledAfterMs: config.outboxStalledAfterMs };
  return {
    stats: (opts: { windowMinutes: number }) => outboxStats(db, { ...opts, ...stalled }),
    list: (filter: OutboxFilter, page: { cursor?: string; limit: number }) => listEvents(db, filter, page, stalled),
    get: (id: string) => getEvent(db, id, stalled),
    blocked: (opts: { limit: number }) => blockedAggregates(db, { ...opts, ...stalled }),
    retry: (id: string, audit: AuditContext) => retryEvent(db, id, audit),
    retryMatching: (filter: OutboxFilter, opts: { batchSize: number; maxEvents: number }, audit: AuditContext) => retryMatching(db, filter, opts, audit),
    discard: (id: string, audit: AuditContext) => discardEvent(db, id, audit),
    replayEdited: (id: string, payload: unknown, audit: AuditContext) => replayEventWithPayload(db, id, payload, audit),
  };
}

/** admin.idempotency: counters from Redis, records from PostgreSQL, the clean-up on demand. */
function idempotencyOperations({ db, redis, config }: DomainInfrastructure) {
  const metrics = createIdempotencyMetrics(redis, config.queuePrefix);
  return {
    async stats(opts: { hours?: number }) {
      const [counters, records] = await Promise.all([metrics.read({ hours: opts.hours }), countRecordsByState(db)]);
      return {
        window: opts.hours === undefined ? ("all time" as const) : (`last ${opts.hours} h` as const),
        counters: counters.total,
        hitRate: hitRate(counters.total),
        byProcedure: Object.entries(counters.byProcedure)
          .map(([procedure, counts]) => ({ procedure, ...counts, hitRate: hitRate(counts) }))
          .sort((a, b) => b.requests - a.requests),
        records,
      };
    },
    records: (query: Parameters<typeof listIdempotencyRecords>[1]) => listIdempotencyRecords(db, query),
    /** Its batches commit one by one, so its audit row is written once they are done, with the total. */
    async deleteExpired(opts: { batchSize: number }, audit: AuditContext) {
      const result = await deleteExpiredIdempotencyKeys(db, { batchSize: opts.batchSize });
      await recordAfterEffect(db, { ...audit, action: "idempotency.deleteExpired", targetKind: "idempotency_key", affectedCount: result.deleted });
      return result;
    },
  };
}

/** admin.cache: the query cache's operator view; null when the process runs without a cache. */
function cacheOperations({ db, cache }: DomainInfrastructure) {
  if (!cache) return null;
  return {
    stats: () => cache.stats(),
    /** The flush is in Redis: there is no transaction to share, so it is recorded once done. */
    async flushPrefix(prefix: string, audit: AuditContext) {
      const result = await cache.flushPrefix(prefix);
      await recordAfterEffect(db, { ...audit, action: "cache.flushPrefix", targetKind: "cache_prefix", targetIds: [prefix], affectedCount: result.deleted });
      return result;
    },
    /** false: Redis did not answer (the tag is invalidated when it is back), and nothing is recorded. */
    async flushTag(tag: string, audit: AuditContext): Promise<boolean> {
      const { ok } = await cache.flushTag(tag);
      if (ok) await recordAfterEffect(db, { ...audit, action: "cache.flushTag", targetKind: "cache_tag", targetIds: [tag] });
      return ok;
    },
  };
}

/** How long an operator action waits for Redis to take a pause; past it the workers apply it. */
const APPLY_PAUSE_DEADLINE_MS = 1000;

/** admin.fleet: worker processes (PostgreSQL), BullMQ's counts (Redis), pausing a queue. */
function fleetOperations({ db, redis, config }: DomainInfrastructure, log: ServiceLog) {
  // BullMQ's prefix: hash-tagged on a cluster, as the worker names its queues.
  const queues = () => fleetQueuesFor(redis, queuePrefix(config.queuePrefix, redis));
  return {
    async list() {
      const [workers, desired, states] = await Promise.all([listWorkers(db), desiredPauses(db), readQueueStates(queues())]);
      return {
        workers,
        redis: states.redis,
        queues: states.queues.map((q) => {
          const want = desired.get(q.name);
          return { ...q, desiredPaused: want?.paused ?? false, changedAt: want?.changedAt ?? null, changedBy: want?.changedBy ?? null };
        }),
        missedBeatsBeforeGone: MISSED_BEATS_BEFORE_GONE,
      };
    },
    /**
     * Set the desired state in PostgreSQL (what survives a Redis wipe) with its audit row, in one
     * transaction, then apply it to Redis now if Redis answers in time. If it does not, the answer
     * says so: every worker re-applies the desired state on its next fleet beat once Redis is back.
     */
    async setPaused(queue: PausableQueue, paused: boolean, audit: AuditContext) {
      await inTransaction(db, async (tx) => {
        await setDesiredPause(tx, queue, paused, audit.actor.id);
        await recordOperatorAction(tx as TransactionOnly, { ...audit, action: paused ? "queue.pause" : "queue.resume", targetKind: "queue", targetIds: [queue], affectedCount: 1 });
      });
      const appliedNow = await withDeadline(applyPause(queues(), queue, paused), APPLY_PAUSE_DEADLINE_MS).then(
        () => true,
        (err: unknown) => {
          log.warn({ err, queue, paused }, "queue pause recorded, but Redis did not take it now; the workers will apply it");
          return false;
        },
      );
      return { queue, paused, appliedNow };
    },
  };
}

/** admin.bulk: act on every outbox event or saga matching a filter, in the worker, in batches. */
function bulkOperations({ db, redis, config }: DomainInfrastructure, log: ServiceLog) {
  const queue = () => bulkQueueFor(redis, queuePrefix(config.queuePrefix, redis));
  return {
    dryRun: (request: BulkRequest) => dryRunBulkRequest(db, request),
    start: (input: Parameters<typeof startBulk>[1], audit: AuditContext) => startBulk({ db, queue: queue(), logger: log }, input, audit),
    get: (id: string) => getBulk(db, id),
    list: (page: { cursor?: string; limit: number }) => listBulk(db, page),
    cancel: (id: string, audit: AuditContext) => cancelBulk(db, id, audit),
  };
}

export function createDomainServices(infra: DomainInfrastructure) {
  const { db, storage, sessions } = infra;
  // Warnings of a request's work (a step or bulk job Redis did not take, a pause it did not apply)
  // name the request's correlation id: see platform/request-logger.ts.
  const log = requestScopedLog(infra.logger);
  const sagas = webSagaService({ ...infra, logger: log });
  const users = createUserAdmin({ db, userChanged: (id) => sessions.userChanged(id) });
  return {
    files: filesService(infra),
    uploads: createUploadService({ db, storage, startSaga: (...args) => sagas.startSaga(...args) }),
    sagas,
    users: {
      ...users,
      /** A user revoking every session of their own, on every device (e.g. after a lost laptop): audited like an operator's revocation. */
      signOutEverywhere: (userId: string, audit: AuditContext) => users.revokeSessions(userId, audit, "signOutEverywhere"),
    },
    outboxAdmin: outboxOperations(infra),
    idempotencyAdmin: idempotencyOperations(infra),
    cacheAdmin: cacheOperations(infra),
    fleet: fleetOperations(infra, log),
    bulk: bulkOperations(infra, log),
    failures: {
      groups: (opts: { source?: FailureSource; limit: number }) => listFailureGroups(db, opts),
      retryGroup: (group: { source: FailureSource; fingerprint: string }, audit: AuditContext) => retryFailureGroup({ db, sagas: () => sagas }, group, audit),
      discardGroup: (group: { source: FailureSource; fingerprint: string }, audit: AuditContext) => discardFailureGroup(db, group, audit),
    },
    audit: { search: (query: AuditSearch) => searchAudit(db, query) },
    trace: createTraceQuery(db),
    /** admin.live: the console's live feeds, `ctx.live.<topic>` (reliability/live/live-feeds.ts). */
    live: createLiveFeeds({
      db,
      redis: infra.redis,
      logger: infra.logger,
      queuePrefix: infra.config.queuePrefix,
      outboxStalledAfterMs: infra.config.outboxStalledAfterMs,
      sagaMetrics: () => sagas.metrics({}),
      intervalMs: infra.config.livePollIntervalMs,
    }),
    search: createConsoleSearch(db),
  };
}

export type DomainServices = ReturnType<typeof createDomainServices>;
