import type { Redis } from "ioredis";
import type { Db } from "./db/client";
import type { QueryCache } from "./domain/cache/query-cache";
import type { IdempotencyOptions } from "./domain/idempotency/options";
import type { Logger } from "./logger";
import type { SessionManager } from "./auth/session";
import type { BlobStorage } from "./storage/blob-storage";

/**
 * Everything a request handler needs, built once per process by a composition root (the Next.js
 * route, the worker, or a test that points it at its own database and Redis prefix).
 */
export interface AppServices {
  db: Db;
  redis: Redis;
  storage: BlobStorage;
  sessions: SessionManager;
  logger: Logger;
  /** The query cache (fail-open, its own Redis client); absent when CACHE_ENABLED=false. */
  cache?: QueryCache;
  config: {
    maxUploadBytes: number;
    /** Prefix for BullMQ queues and cache keys: tests use their own. */
    queuePrefix: string;
    /** OUTBOX_STALLED_AFTER_MS: when an unconsumed published event shows as stalled (default 60 s). */
    outboxStalledAfterMs?: number;
    /** Idempotency-Key TTL, lease and transaction limits; defaults in domain/idempotency/options.ts. */
    idempotency?: Partial<IdempotencyOptions>;
  };
}
