import { badInput, tooLarge } from "../../platform/errors";
import type { EventHeaders } from "../../contracts/events";
import { sanitizeFileName } from "./file-name";

/**
 * One upload request, whichever path takes it: files.upload stores at once (files-service.ts),
 * files.startUpload stages the bytes and starts the upload saga (upload-service.ts).
 */
export interface UploadRequest {
  ownerId: string;
  name: string;
  /** The type the client declared; kept as the file's mimeType, never trusted for the policy. */
  declaredType: string;
  bytes: Uint8Array;
  tags: string[];
  maxBytes: number;
  /** Trace headers for the events the upload writes (the saga carries them in its input). */
  headers?: EventHeaders;
}

/**
 * What can be checked before anything is stored, the same for both paths: a usable name, some
 * content, within the size limit. Returns the sanitized name and the size.
 */
export function checkUploadRequest(request: UploadRequest): { name: string; size: number } {
  const name = sanitizeFileName(request.name);
  const size = request.bytes.byteLength;
  if (size === 0) throw badInput("The file is empty: choose a file with content");
  if (size > request.maxBytes) {
    throw tooLarge(`The file is ${size} bytes; the limit is ${request.maxBytes} bytes`, { limit: request.maxBytes, size });
  }
  return { name, size };
}
