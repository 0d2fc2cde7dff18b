import type { Db } from "./platform/db/client";
import type { BlobStorage } from "./platform/storage/blob-storage";
import type { AppendOptions } from "./reliability/outbox/append-event";
import { createSagaRegistry, type SagaRegistry } from "./reliability/saga/definition";
import { fileUploadSaga } from "./features/files/upload-saga";
import { createSagaService, type SagaLogger, type SagaService } from "./reliability/saga/saga-service";
import type { SagaDispatcher } from "./reliability/saga/types";
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

/**
 * How long a web request waits for Redis to take a step job. Past it the request answers anyway:
 * the saga is in PostgreSQL, and the sweeper queues a step that has no job (SAGA_STUCK_AFTER_MS).
 */
export const WEB_DISPATCH_TIMEOUT_MS = 1_000;

/**
 * The saga service of a web process, built once by the composition root: the app's registry and
 * the step queue on the app's own Redis client and prefix, with a bounded wait for Redis. The
 * queue is made at the first dispatch, so a process that never starts or drives a saga (the
 * worker runs its own) opens nothing for it.
 */
export function webSagaService(services: {
  db: Db;
  storage: BlobStorage;
  redis: RedisClient;
  config: { queuePrefix: string };
  logger?: SagaLogger;
}): SagaService {
  let bull: SagaDispatcher | undefined;
  const bullDispatcher = () =>
    (bull ??= createBullSagaDispatcher(sharedStepQueue(services.redis, queuePrefix(services.config.queuePrefix, services.redis)), { timeoutMs: WEB_DISPATCH_TIMEOUT_MS }));
  const dispatcher: SagaDispatcher = {
    dispatch: (job, options) => bullDispatcher().dispatch(job, options),
    ensure: (job, options) => bullDispatcher().ensure(job, options),
    // Without the mark, a worker already holding the saga's next step job would run its body after the abort.
    markAbort: (saga, ttlMs) => bullDispatcher().markAbort!(saga, ttlMs),
    markAborts: (marks) => bullDispatcher().markAborts!(marks),
  };
  return createSagaService({ db: services.db, registry: appSagaRegistry(services), dispatcher, logger: services.logger });
}
