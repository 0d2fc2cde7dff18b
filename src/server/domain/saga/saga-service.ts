import type { ConnectionOptions } from "bullmq";
import type { Db } from "../../db/client";
import type { BlobStorage } from "../../storage/blob-storage";
import { appSagaRegistry } from "./app-sagas";
import type { SagaRegistry } from "./definition";
import { createSagaEngine, type SagaEngineDeps } from "./engine";
import { createSagaFork } from "./fork";
import { createSagaOperations } from "./operations";
import { createSagaQueries } from "./queries";
import { createBullSagaDispatcher, sharedStepQueue } from "./step-queue";
import type { SagaDispatcher } from "./types";

/** Everything a request handler does with sagas: start one, read them, act on one. */
export function createSagaService(deps: { db: Db; registry: SagaRegistry; dispatcher: SagaDispatcher; logger?: SagaLogger }) {
  const engine = createSagaEngine(deps);
  return {
    registry: deps.registry,
    startSaga: engine.startSaga,
    ...createSagaQueries(deps),
    ...createSagaOperations(deps),
    ...createSagaFork(deps),
  };
}

export type SagaService = ReturnType<typeof createSagaService>;

type SagaLogger = NonNullable<SagaEngineDeps["logger"]>;

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
  redis: ConnectionOptions & object;
  config: { queuePrefix: string };
  logger?: SagaLogger;
}) {
  let registry = registries.get(services.db);
  if (!registry) registries.set(services.db, (registry = appSagaRegistry(services)));
  const dispatcher = createBullSagaDispatcher(sharedStepQueue(services.redis, services.config.queuePrefix), { timeoutMs: WEB_DISPATCH_TIMEOUT_MS });
  return createSagaService({ db: services.db, registry, dispatcher, logger: services.logger });
}
