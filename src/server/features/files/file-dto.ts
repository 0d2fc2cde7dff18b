import type { Prisma } from "../../platform/db/client";

/** The only columns a client ever sees (explicit select: storage keys and owner ids stay inside). */
export const fileDtoSelect = {
  id: true,
  name: true,
  mimeType: true,
  detectedType: true,
  sizeBytes: true,
  checksumSha256: true,
  width: true,
  height: true,
  tags: true,
  status: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.FileSelect;

export type FileRow = Prisma.FileGetPayload<{ select: typeof fileDtoSelect }>;

export type FileDto = Omit<FileRow, "sizeBytes"> & { sizeBytes: number };

export function toFileDto(row: FileRow): FileDto {
  return { ...row, sizeBytes: Number(row.sizeBytes) };
}
