import type { Db } from "../../platform/db/client";
import type { BlobStorage } from "../../platform/storage/blob-storage";
import type { AppendOptions } from "../outbox/append-event";
import { createSagaRegistry, type SagaRegistry } from "./definition";
import { fileUploadSaga } from "./sagas/file-upload";

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
