import type { Db } from "../../db/client";
import type { BlobStorage } from "../../storage/blob-storage";
import { createSagaRegistry, type SagaRegistry } from "./definition";

/**
 * The sagas MetaStore runs, built from the process's services. The worker and the web process
 * build the same registry, so the web side can start a saga and operators can drive one.
 */
export function appSagaRegistry(_deps: { db: Db; storage: BlobStorage }): SagaRegistry {
  return createSagaRegistry([]);
}
