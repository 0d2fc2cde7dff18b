import type { ConnectionOptions } from "bullmq";
import type { Db } from "../../db/client";
import type { BlobStorage } from "../../storage/blob-storage";
import { appSagaRegistry } from "./app-sagas";
import type { SagaRegistry } from "./definition";
import { createSagaEngine } from "./engine";
import { createSagaOperations } from "./operations";
import { createSagaQueries } from "./queries";
import { createBullSagaDispatcher, sharedStepQueue } from "./step-queue";
import type { SagaDispatcher } from "./types";

/** Everything a request handler does with sagas: start one, read them, act on one. */
export function createSagaService(deps: { db: Db; registry: SagaRegistry; dispatcher: SagaDispatcher }) {
  const engine = createSagaEngine(deps);
  return {
    registry: deps.registry,
    startSaga: engine.startSaga,
    ...createSagaQueries(deps),
    ...createSagaOperations(deps),
  };
}

export type SagaService = ReturnType<typeof createSagaService>;

const registries = new WeakMap<object, SagaRegistry>();

/**
 * The saga service of a web process: the app's registry (built once per database client) and the
 * step queue on the app's own Redis client and prefix.
 */
export function sagaServiceFor(services: { db: Db; storage: BlobStorage; redis: ConnectionOptions & object; config: { queuePrefix: string } }) {
  let registry = registries.get(services.db);
  if (!registry) registries.set(services.db, (registry = appSagaRegistry(services)));
  const dispatcher = createBullSagaDispatcher(sharedStepQueue(services.redis, services.config.queuePrefix));
  return createSagaService({ db: services.db, registry, dispatcher });
}
