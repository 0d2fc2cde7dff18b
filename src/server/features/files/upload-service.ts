import { v7 as uuidv7 } from "uuid";
import type { Db } from "../../platform/db/client";
import type { BlobStorage } from "../../platform/storage/blob-storage";
import { DomainError, notFound } from "../../platform/errors";
import { fileDtoSelect, toFileDto, type FileDto } from "./file-dto";
import type { SagaStatus } from "../../contracts/statuses";
import { FILE_UPLOAD_SAGA, FILE_UPLOAD_STEPS, type FileUploadInput } from "./upload-saga";
import { stagingKeyFor } from "./storage-keys";
import { checkUploadRequest, type UploadRequest } from "./upload-request";

/**
 * The request side of uploads: check what can be checked at once, stage the bytes, start the
 * file-upload saga and answer with its id; then report the saga's progress to the uploader.
 */

export type UploadStatus =
  | { sagaId: string; fileId: string; state: "processing"; step: string; stepIndex: number; stepCount: number }
  | { sagaId: string; fileId: string; state: "done"; file: FileDto }
  | { sagaId: string; fileId: string; state: "failed"; error: string; undone: boolean };

/** What the uploader should read: the step's own message for a rejection, not the saga's bookkeeping. */
export function uploadErrorMessage(lastError: string | null): string {
  if (!lastError) return "The upload failed";
  const permanent = lastError.match(/PermanentStepError: ([\s\S]*)$/);
  if (permanent) return permanent[1]!;
  if (lastError.startsWith("Aborted by an operator")) return "The upload was cancelled by an operator";
  const step = lastError.match(/^Step \d+ \(([\w-]+)\) failed/);
  return `The upload failed while processing it (${step?.[1] ?? "unknown step"}); try again`;
}

export function createUploadService(deps: {
  db: Db;
  storage: BlobStorage;
  startSaga: (type: string, input: unknown, options: { id: string; correlationId?: string; traceparent?: string }) => Promise<unknown>;
}) {
  const { db, storage } = deps;
  return {
    async start(input: UploadRequest): Promise<{ sagaId: string; fileId: string; name: string; sizeBytes: number; state: "processing" }> {
      const { name, size } = checkUploadRequest(input);
      // Fast feedback only: the saga reserves atomically (two uploads racing for the last bytes).
      const owner = await db.user.findUnique({ where: { id: input.ownerId }, select: { usedBytes: true, quotaBytes: true } });
      if (!owner) throw notFound("Your account was not found");
      if (owner.usedBytes + BigInt(size) > owner.quotaBytes) {
        throw new DomainError("too_large", `Your storage quota is full: this file needs ${size} bytes and ${owner.quotaBytes - owner.usedBytes} are free; delete files to make room`);
      }
      const sagaId = uuidv7();
      const fileId = uuidv7();
      const stagingKey = stagingKeyFor(sagaId);
      await storage.put(stagingKey, input.bytes);
      const sagaInput: FileUploadInput = {
        fileId,
        ownerId: input.ownerId,
        name,
        declaredType: input.declaredType,
        sizeBytes: size,
        tags: input.tags,
        stagingKey,
        headers: input.headers ?? {},
      };
      try {
        await deps.startSaga(FILE_UPLOAD_SAGA, sagaInput, { id: sagaId, correlationId: input.headers?.correlationId, traceparent: input.headers?.traceparent });
      } catch (error) {
        await storage.delete(stagingKey);
        throw error;
      }
      return { sagaId, fileId, name, sizeBytes: size, state: "processing" };
    },

    async status(ownerId: string, sagaId: string): Promise<UploadStatus> {
      const saga = await db.sagaInstance.findUnique({ where: { id: sagaId }, select: { type: true, status: true, currentStep: true, input: true, lastError: true } });
      const input = saga?.input as Partial<FileUploadInput> | undefined;
      // Someone else's upload answers exactly like a missing one.
      if (!saga || saga.type !== FILE_UPLOAD_SAGA || input?.ownerId !== ownerId || !input.fileId) throw notFound(`Upload ${sagaId} was not found`);
      const fileId = input.fileId;
      const status = saga.status as SagaStatus;
      if (status === "running") {
        return { sagaId, fileId, state: "processing", step: FILE_UPLOAD_STEPS[saga.currentStep] ?? "unknown", stepIndex: saga.currentStep, stepCount: FILE_UPLOAD_STEPS.length };
      }
      if (status === "completed") {
        const row = await db.file.findUnique({ where: { id: fileId }, select: fileDtoSelect });
        if (row && row.status === "active") return { sagaId, fileId, state: "done", file: toFileDto(row) };
        return { sagaId, fileId, state: "failed", error: "The file was deleted", undone: true };
      }
      // The uploader wants the reason the upload failed (the failed step), not a later clean-up error.
      const failedStep = await db.sagaStepLog.findFirst({
        where: { sagaId, phase: "execute", status: "failed" },
        orderBy: { stepIndex: "desc" },
        select: { stepIndex: true, stepName: true, error: true },
      });
      const reason = failedStep?.error ? `Step ${failedStep.stepIndex} (${failedStep.stepName}) failed: ${failedStep.error}` : saga.lastError;
      return { sagaId, fileId, state: "failed", error: uploadErrorMessage(status === "aborted" ? saga.lastError : reason), undone: status === "compensated" || status === "aborted" };
    },
  };
}
