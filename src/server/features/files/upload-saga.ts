import { z } from "zod";
import type { Db } from "../../platform/db/client";
import { inTransaction } from "../../platform/db/transaction";
import type { BlobStorage } from "../../platform/storage/blob-storage";
import { appendEvent, type AppendOptions } from "../../reliability/outbox/append-event";
import { eventHeadersSchema } from "../../contracts/events";
import { fileChangeToEvent } from "./files-outbox";
import { ALLOWED_TYPES, IMAGE_TYPES, imageDimensions, notAcceptedMessage, sha256Hex, sniffContentType } from "./content-inspection";
import { storageKeyFor, thumbnailKeyFor } from "./storage-keys";
import { defineSaga, PermanentStepError } from "../../reliability/saga/definition";
import { handOverEffect, recordEffect, undoEffect } from "../../reliability/saga/effects";

/**
 * The file-upload saga. The upload request has already staged the bytes (staging/<sagaId>) and
 * returned the saga id; this runs in the worker:
 *   0 check-staged    the staged bytes are there, with the announced size (the saga now owns them)
 *   1 reserve-quota   conditional UPDATE of app_user.used_bytes (recorded once per execution id)
 *   2 store-blob      move the staged bytes to files/<owner>/<file>
 *   3 inspect         real content type from the bytes, allow-list, image dimensions (sharp)
 *   4 create-record   the file row and its file.uploaded outbox event, in one transaction
 *   5 derive          sha256 checksum and, for images, a 256 px WebP thumbnail (sharp)
 * Compensations, in reverse: delete the thumbnail; mark the record failed (+ file.deleted event);
 * delete the stored blob; release the quota; delete the staged bytes. Step 0 exists so that
 * whichever later step fails, the staged copy is cleaned up by a compensation.
 *
 * Quota has exactly one holder at a time, and only the holder releases it: the reservation
 * (reserve-quota) until the file row exists, then the live file. create-record hands the
 * reservation over to the row in the row's own transaction; from then on whoever moves the row
 * out of `active` releases the bytes in that same statement's transaction — the owner's delete, or
 * create-record's compensation — and the row lock lets only one of them do it.
 */

export const FILE_UPLOAD_SAGA = "file.upload";
export const FILE_UPLOAD_STEPS = ["check-staged", "reserve-quota", "store-blob", "inspect", "create-record", "derive"] as const;

const THUMBNAIL_PX = 256;

export const fileUploadInput = z.object({
  fileId: z.uuid(),
  ownerId: z.uuid(),
  name: z.string().min(1).max(1024),
  declaredType: z.string().max(255),
  sizeBytes: z.number().int().positive(),
  tags: z.array(z.string()).max(50),
  stagingKey: z.string().min(1).max(512),
  headers: eventHeadersSchema.default({}),
});
export type FileUploadInput = z.infer<typeof fileUploadInput>;


export interface FileUploadDeps {
  db: Db;
  storage: BlobStorage;
  outbox?: AppendOptions;
  /** Called after the record commits or is marked failed (the worker drops cached file lists). */
  onFileChanged?: (file: { id: string; ownerId: string }) => Promise<void>;
  /** Tests only: runs at the start of every execute/compensate, to inject faults. */
  inject?: (step: string, phase: "execute" | "compensate", input: FileUploadInput) => Promise<void>;
}

export function fileUploadSaga(deps: FileUploadDeps) {
  const { db, storage } = deps;
  const inject = deps.inject ?? (async () => {});

  return defineSaga({
    type: FILE_UPLOAD_SAGA,
    input: fileUploadInput,
    retry: { attempts: 4, backoffMs: 250 },
    timeoutMs: 30_000,
    steps: [
      {
        name: "check-staged",
        async execute({ input }) {
          try {
            await inject("check-staged", "execute", input);
            const finalKey = storageKeyFor(input.ownerId, input.fileId);
            // A redrive after store-blob finds the bytes already moved.
            if (!(await storage.exists(input.stagingKey)) && !(await storage.exists(finalKey))) {
              throw new PermanentStepError("The uploaded bytes are gone (staging area cleaned?): upload the file again");
            }
            return { stagingKey: input.stagingKey };
          } catch (error) {
            // A failed step is not compensated: this first one cleans up after itself.
            if (error instanceof PermanentStepError) await storage.delete(input.stagingKey);
            throw error;
          }
        },
        async compensate({ input }) {
          await inject("check-staged", "compensate", input);
          await storage.delete(input.stagingKey);
        },
      },
      {
        name: "reserve-quota",
        retry: { attempts: 3 },
        async execute({ input, executionId }) {
          await inject("reserve-quota", "execute", input);
          return inTransaction(db, async (tx) => {
            if (!(await recordEffect(tx, executionId, "quota", { ownerId: input.ownerId, bytes: input.sizeBytes }))) {
              return { reservedBytes: input.sizeBytes, executionId, repeated: true };
            }
            const reserved = await tx.$executeRaw`
              UPDATE app_user SET used_bytes = used_bytes + ${input.sizeBytes}
              WHERE id = ${input.ownerId}::uuid AND used_bytes + ${input.sizeBytes} <= quota_bytes`;
            if (reserved !== 1) {
              // Throwing rolls back the effect record with it: nothing was reserved.
              throw new PermanentStepError(`Your storage quota is full: this file needs ${input.sizeBytes} bytes; delete files to make room`);
            }
            return { reservedBytes: input.sizeBytes, executionId };
          });
        },
        async compensate({ input, executionId }) {
          await inject("reserve-quota", "compensate", input);
          await inTransaction(db, async (tx) => {
            const reservation = await undoEffect<{ bytes: number }>(tx, executionId, "quota");
            if (reservation) {
              await tx.$executeRaw`UPDATE app_user SET used_bytes = GREATEST(used_bytes - ${reservation.bytes}, 0) WHERE id = ${input.ownerId}::uuid`;
            }
          });
        },
      },
      {
        name: "store-blob",
        async execute({ input }) {
          await inject("store-blob", "execute", input);
          const storageKey = storageKeyFor(input.ownerId, input.fileId);
          // Retried after a crash: the move may already have happened (the staged copy is gone).
          if (await storage.exists(input.stagingKey)) {
            const { sizeBytes } = await storage.put(storageKey, await storage.read(input.stagingKey));
            if (sizeBytes !== input.sizeBytes) throw new Error(`Stored ${sizeBytes} bytes, expected ${input.sizeBytes}`);
            await storage.delete(input.stagingKey);
          } else if (!(await storage.exists(storageKey))) {
            throw new PermanentStepError("The uploaded bytes are gone (staging area cleaned?): upload the file again");
          }
          return { storageKey };
        },
        async compensate({ input }) {
          await inject("store-blob", "compensate", input);
          await storage.delete(storageKeyFor(input.ownerId, input.fileId));
        },
      },
      {
        name: "inspect",
        async execute({ input }) {
          await inject("inspect", "execute", input);
          const bytes = await storage.readAll(storageKeyFor(input.ownerId, input.fileId));
          const detectedType = await sniffContentType(bytes);
          if (!ALLOWED_TYPES.has(detectedType)) throw new PermanentStepError(notAcceptedMessage(detectedType));
          if (!IMAGE_TYPES.has(detectedType)) return { detectedType, width: null, height: null };
          try {
            return { detectedType, ...(await imageDimensions(bytes)) };
          } catch (error) {
            throw new PermanentStepError(`The image cannot be read (${error instanceof Error ? error.message : error}): it may be damaged`);
          }
        },
      },
      {
        name: "create-record",
        async execute({ input, outputs }) {
          await inject("create-record", "execute", input);
          const inspected = outputs["inspect"] as { detectedType: string; width: number | null; height: number | null };
          // Sagas started before the hand-over existed have no execution id here: they keep the old rule.
          const reservation = outputs["reserve-quota"] as { executionId?: string } | undefined;
          const storageKey = storageKeyFor(input.ownerId, input.fileId);
          const mimeType = input.declaredType || inspected.detectedType;
          await inTransaction(db, async (tx) => {
            // The file id is the idempotency key: a retry after a crash finds the committed row.
            if (await tx.file.findUnique({ where: { id: input.fileId }, select: { id: true } })) return;
            await tx.file.create({
              data: {
                id: input.fileId,
                ownerId: input.ownerId,
                name: input.name,
                mimeType,
                detectedType: inspected.detectedType,
                width: inspected.width,
                height: inspected.height,
                sizeBytes: BigInt(input.sizeBytes),
                storageKey,
                tags: input.tags,
              },
            });
            const change = {
              type: "file.uploaded" as const,
              file: { id: input.fileId, ownerId: input.ownerId, name: input.name, mimeType, sizeBytes: input.sizeBytes, storageKey, tags: input.tags },
            };
            await appendEvent(tx, fileChangeToEvent(change, input.headers), deps.outbox);
            // The live file now holds the reserved bytes (see the header): the reservation is no
            // longer this saga's to release.
            if (reservation?.executionId) await handOverEffect(tx, reservation.executionId, "quota", `file:${input.fileId}`);
          });
          await deps.onFileChanged?.({ id: input.fileId, ownerId: input.ownerId });
          return { fileId: input.fileId };
        },
        async compensate({ input, outputs }) {
          await inject("create-record", "compensate", input);
          const reservation = outputs["reserve-quota"] as { executionId?: string } | undefined;
          await inTransaction(db, async (tx) => {
            const marked = await tx.file.updateMany({ where: { id: input.fileId, status: "active" }, data: { status: "failed" } });
            // Whoever heard file.uploaded must hear that the file is gone. Taking the file out of
            // `active` releases the bytes it held (handed over at create-record); if the owner
            // deleted it first, their delete released them and nothing matches here.
            if (marked.count === 1) {
              const heldByFile = reservation?.executionId
                ? await tx.$queryRaw<unknown[]>`
                    SELECT 1 FROM saga_effect
                    WHERE execution_id = ${reservation.executionId} AND effect = 'quota' AND data->>'handedOverTo' = ${`file:${input.fileId}`}`
                : [];
              if (heldByFile.length === 1) {
                await tx.$executeRaw`UPDATE app_user SET used_bytes = GREATEST(used_bytes - ${input.sizeBytes}, 0) WHERE id = ${input.ownerId}::uuid`;
              }
              await appendEvent(
                tx,
                fileChangeToEvent(
                  { type: "file.deleted", file: { id: input.fileId, ownerId: input.ownerId, storageKey: storageKeyFor(input.ownerId, input.fileId), sizeBytes: input.sizeBytes } },
                  input.headers,
                ),
                deps.outbox,
              );
            }
          });
          await deps.onFileChanged?.({ id: input.fileId, ownerId: input.ownerId });
        },
      },
      {
        name: "derive",
        async execute({ input, outputs }) {
          await inject("derive", "execute", input);
          const { detectedType } = outputs["inspect"] as { detectedType: string };
          const bytes = await storage.readAll(storageKeyFor(input.ownerId, input.fileId));
          const checksumSha256 = sha256Hex(bytes);
          let thumbnailKey: string | null = null;
          if (IMAGE_TYPES.has(detectedType)) {
            const { default: sharp } = await import("sharp");
            const thumbnail = await sharp(bytes, { animated: false })
              .rotate() // honour EXIF orientation
              .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: "inside", withoutEnlargement: true })
              .webp({ quality: 80 })
              .toBuffer();
            thumbnailKey = thumbnailKeyFor(input.ownerId, input.fileId);
            await storage.put(thumbnailKey, thumbnail);
          }
          await db.file.update({ where: { id: input.fileId }, data: { checksumSha256, thumbnailKey } });
          return { checksumSha256, thumbnailKey };
        },
        async compensate({ input }) {
          await inject("derive", "compensate", input);
          await storage.delete(thumbnailKeyFor(input.ownerId, input.fileId));
        },
      },
    ],
  });
}
