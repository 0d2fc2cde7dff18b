import type { Db } from "./platform/db/client";
import type { BlobStorage } from "./platform/storage/blob-storage";
import type { AppendOptions } from "./reliability/outbox/append-event";
import { createSagaRegistry, type SagaRegistry } from "./reliability/saga/definition";
import { fileUploadSaga } from "./features/files/upload-saga";
import { createSagaService, type SagaLogger } from "./reliability/saga/saga-service";
import { createBullSagaDispatcher, sharedStepQueue } from "./reliability/saga/step-queue";
import { queuePrefix, type RedisClient } from "./platform/redis";

/**
 * The sagas MetaStore runs, built from the process's services. The worker and the web process
 * build the same registry, so the web side can start a saga and operators can drive one.
 */
export function appSagaRegistry(deps: {
  db: Db;
  storage: BlobStorage;
  outbox?: AppendOptions;
  /** After a saga changes a file row (the worker passes the query cache's invalidation). */
  onFileChanged?: (file: { id: string; ownerId: string }) => Promise<void>;
}): SagaRegistry {
  return createSagaRegistry([fileUploadSaga(deps)]);
}

const registries = new WeakMap<object, SagaRegistry>();

/**
 * How long a web request waits for Redis to take a step job. Past it the request answers anyway:
 * the saga is in PostgreSQL, and the sweeper queues a step that has no job (SAGA_STUCK_AFTER_MS).
 */
export const WEB_DISPATCH_TIMEOUT_MS = 1_000;

/**
 * The saga service of a web process: the app's registry (built once per database client) and the
 * step queue on the app's own Redis client and prefix, with a bounded wait for Redis.
 */
export function sagaServiceFor(services: {
  db: Db;
  storage: BlobStorage;
  redis: RedisClient;
  config: { queuePrefix: string };
  logger?: SagaLogger;
}) {
  let registry = registries.get(services.db);
  if (!registry) registries.set(services.db, (registry = appSagaRegistry(services)));
  const dispatcher = createBullSagaDispatcher(sharedStepQueue(services.redis, queuePrefix(services.config.queuePrefix, services.redis)), { timeoutMs: WEB_DISPATCH_TIMEOUT_MS });
  return createSagaService({ db: services.db, registry, dispatcher, logger: services.logger });
}
