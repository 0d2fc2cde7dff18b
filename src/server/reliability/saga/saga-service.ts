import type { Db } from "../../platform/db/client";
import type { SagaRegistry } from "./definition";
import { createSagaEngine, type SagaEngineDeps } from "./engine";
import { createSagaFork } from "./fork";
import { createSagaOperations } from "./operations";
import { createSagaQueries } from "./queries";
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

export type SagaLogger = NonNullable<SagaEngineDeps["logger"]>;
