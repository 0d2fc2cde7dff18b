import { v7 as uuidv7 } from "uuid";
import type { Db, Prisma } from "../../platform/db/client";
import { inTransaction, type Tx } from "../../platform/db/transaction";
import type { BlobStorage } from "../../platform/storage/blob-storage";
import { DomainError, notFound } from "../../platform/errors";
import { acceptedContentType, servedContentType } from "./content-inspection";
import { decodeCursor, encodeCursor } from "./cursor";
import { fileDtoSelect, toFileDto, type FileDto } from "./file-dto";
import { sanitizeFileName } from "./file-name";
import { storageKeyFor } from "./storage-keys";
import { checkUploadRequest, type UploadRequest } from "./upload-request";

export interface FilesDeps {
  db: Db;
  storage: BlobStorage;
}

export type { Tx };

/**
 * Hook run inside each files mutation's transaction, after the business write: the outbox module
 * plugs in here so the event commits (or rolls back) with the change.
 */
export type FileMutationHook = (tx: Tx, change: FileChange) => Promise<void>;

export type FileChange =
  | { type: "file.uploaded"; file: { id: string; ownerId: string; name: string; mimeType: string; sizeBytes: number; storageKey: string; tags: string[] } }
  | { type: "file.renamed"; file: { id: string; ownerId: string }; from: string; to: string }
  | { type: "file.tagged"; file: { id: string; ownerId: string }; tags: string[] }
  | { type: "file.deleted"; file: { id: string; ownerId: string; storageKey: string; sizeBytes: number } };


/** Load one of the owner's files, or say clearly why it cannot be had. */
async function loadOwned(db: Db | Tx, ownerId: string, id: string) {
  const row = await db.file.findUnique({ where: { id }, select: { ...fileDtoSelect, ownerId: true, storageKey: true } });
  // Another user's file answers exactly like a missing one: ids must not reveal what exists.
  if (!row || row.ownerId !== ownerId) throw notFound(`File ${id} was not found`);
  if (row.status === "deleted") throw notFound(`File ${id} has been deleted`);
  return row;
}

export function createFilesService(deps: FilesDeps, onChange: FileMutationHook = async () => {}) {
  const { db, storage } = deps;

  return {
    /**
     * Store the bytes, then commit the record, the quota charge and the event together. If the
     * transaction fails the blob is removed again, so a failed upload leaves nothing behind.
     */
    async upload(input: UploadRequest): Promise<FileDto> {
      const { name, size } = checkUploadRequest(input);
      // The same policy as the upload saga's inspect step, before anything is stored.
      const detectedType = await acceptedContentType(input.bytes);
      const id = uuidv7();
      const storageKey = storageKeyFor(input.ownerId, id);
      await storage.put(storageKey, input.bytes);
      try {
        const row = await inTransaction(db, async (tx) => {
          const charged = await tx.$executeRaw`
            UPDATE app_user SET used_bytes = used_bytes + ${size}
            WHERE id = ${input.ownerId}::uuid AND used_bytes + ${size} <= quota_bytes`;
          if (charged !== 1) throw new DomainError("too_large", "Your storage quota is full: delete files to make room");
          const created = await tx.file.create({
            data: {
              id,
              ownerId: input.ownerId,
              name,
              mimeType: input.declaredType || detectedType,
              detectedType,
              sizeBytes: BigInt(size),
              storageKey,
              tags: input.tags,
            },
            select: fileDtoSelect,
          });
          await onChange(tx, {
            type: "file.uploaded",
            file: { id, ownerId: input.ownerId, name, mimeType: created.mimeType, sizeBytes: size, storageKey, tags: input.tags },
          });
          return created;
        });
        return toFileDto(row);
      } catch (error) {
        await storage.delete(storageKey);
        throw error;
      }
    },

    async list(
      ownerId: string,
      query: { cursor?: string; limit: number; name?: string; type?: string; tag?: string },
    ): Promise<{ items: FileDto[]; nextCursor: string | null }> {
      const afterId = query.cursor ? decodeCursor(query.cursor) : undefined;
      const where: Prisma.FileWhereInput = {
        ownerId,
        status: "active",
        ...(afterId ? { id: { lt: afterId } } : {}),
        ...(query.name ? { name: { contains: query.name, mode: "insensitive" } } : {}),
        ...(query.type
          ? query.type.endsWith("/")
            ? { mimeType: { startsWith: query.type } }
            : { mimeType: query.type }
          : {}),
        ...(query.tag ? { tags: { has: query.tag } } : {}),
      };
      const rows = await db.file.findMany({ where, orderBy: { id: "desc" }, take: query.limit + 1, select: fileDtoSelect });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        items: page.map(toFileDto),
        nextCursor: rows.length > query.limit && last ? encodeCursor(last.id) : null,
      };
    },

    async get(ownerId: string, id: string): Promise<FileDto> {
      const { ownerId: _o, storageKey: _k, ...row } = await loadOwned(db, ownerId, id);
      return toFileDto(row);
    },

    /** What the download route needs: the stored key and the safe name. */
    async getForDownload(ownerId: string, id: string) {
      const row = await loadOwned(db, ownerId, id);
      return { name: row.name, mimeType: servedContentType(row), sizeBytes: Number(row.sizeBytes), storageKey: row.storageKey };
    },

    async rename(ownerId: string, id: string, newName: string): Promise<FileDto> {
      const name = sanitizeFileName(newName);
      return inTransaction(db, async (tx) => {
        const before = await lockOwned(tx, ownerId, id);
        const row = await tx.file.update({ where: { id }, data: { name }, select: fileDtoSelect });
        if (before.name !== name) await onChange(tx, { type: "file.renamed", file: { id, ownerId }, from: before.name, to: name });
        return toFileDto(row);
      });
    },

    async setTags(ownerId: string, id: string, tags: string[]): Promise<FileDto> {
      return inTransaction(db, async (tx) => {
        await lockOwned(tx, ownerId, id);
        const row = await tx.file.update({ where: { id }, data: { tags }, select: fileDtoSelect });
        await onChange(tx, { type: "file.tagged", file: { id, ownerId }, tags });
        return toFileDto(row);
      });
    },

    /** Soft delete: the record stays (status deleted) and the quota is released; the blob goes later. */
    async remove(ownerId: string, id: string): Promise<{ id: string; deletedAt: Date }> {
      return inTransaction(db, async (tx) => {
        const before = await lockOwned(tx, ownerId, id);
        const deletedAt = new Date();
        await tx.file.update({ where: { id }, data: { status: "deleted", deletedAt } });
        // Only a live file holds quota: a `failed` one (an upload saga compensated it) already gave
        // its bytes back when it left `active`. The row lock above makes this check race-free.
        if (before.status === "active") {
          await tx.$executeRaw`UPDATE app_user SET used_bytes = GREATEST(used_bytes - ${before.sizeBytes}, 0) WHERE id = ${ownerId}::uuid`;
        }
        await onChange(tx, {
          type: "file.deleted",
          file: { id, ownerId, storageKey: before.storageKey, sizeBytes: Number(before.sizeBytes) },
        });
        return { id, deletedAt };
      });
    },
  };
}

/** Row-lock the file for the rest of the transaction, so concurrent mutations of one file serialise. */
async function lockOwned(tx: Tx, ownerId: string, id: string) {
  const rows = await tx.$queryRaw<Array<{ id: string; owner_id: string; name: string; status: string; storage_key: string; size_bytes: bigint }>>`
    SELECT id, owner_id, name, status, storage_key, size_bytes FROM file WHERE id = ${id}::uuid FOR UPDATE`;
  const row = rows[0];
  if (!row || row.owner_id !== ownerId) throw notFound(`File ${id} was not found`);
  if (row.status === "deleted") throw notFound(`File ${id} has been deleted`);
  return { name: row.name, status: row.status, storageKey: row.storage_key, sizeBytes: row.size_bytes };
}

export type FilesService = ReturnType<typeof createFilesService>;
