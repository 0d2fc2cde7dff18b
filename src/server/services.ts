import type { RedisClient } from "./platform/redis";
import type { Db } from "./platform/db/client";
import type { QueryCache } from "./reliability/cache/query-cache";
import type { IdempotencyOptions } from "./reliability/idempotency/options";
import type { Logger } from "./platform/logger";
import type { RequestMetrics } from "./metrics/request-metrics";
import type { SessionManager } from "./auth/session";
import type { SignInThrottle } from "./auth/sign-in-throttle";
import type { BlobStorage } from "./platform/storage/blob-storage";
import type { DomainServices } from "./domain-services";

/**
 * Everything a request handler needs, built once per process by the composition root
 * (composition.ts: the Next.js route, the worker, or a test that points it at its own database
 * and Redis prefix): the infrastructure, and the domain services built over it.
 */
export type AppServices = AppInfrastructure & DomainServices;

/** The process's infrastructure: clients, storage, sessions, settings. */
export interface AppInfrastructure {
  db: Db;
  redis: RedisClient;
  storage: BlobStorage;
  sessions: SessionManager;
  /** Failed sign-ins per account and per client address (Redis, in-memory when Redis is down). */
  signInThrottle: SignInThrottle;
  logger: Logger;
  /** Request duration histograms of this process (served by /api/metrics); absent: requests are not timed. */
  requestMetrics?: RequestMetrics;
  /** The query cache (fail-open, its own Redis client); absent when CACHE_ENABLED=false. */
  cache?: QueryCache;
  config: {
    maxUploadBytes: number;
    /** Largest non-multipart request body (tRPC JSON); default 1 MiB. */
    maxJsonBodyBytes?: number;
    /** The public origin mutations must come from (APP_ORIGIN); unset: the origin each request was sent to. */
    appOrigin?: string;
    /** Proxies in front of the app that append to X-Forwarded-For (TRUST_PROXY); default 0. */
    trustProxy?: number;
    /** Prefix for BullMQ queues and cache keys: tests use their own. */
    queuePrefix: string;
    /** OUTBOX_STALLED_AFTER_MS: when an unconsumed published event shows as stalled (default 60 s). */
    outboxStalledAfterMs?: number;
    /** How often a watched live topic is read from PostgreSQL, once per deployment (default 2 s: reliability/live). */
    livePollIntervalMs?: number;
    /** Idempotency-Key TTL, lease and transaction limits; defaults in reliability/idempotency/options.ts. */
    idempotency?: Partial<IdempotencyOptions>;
  };
}
