import { createHash } from "node:crypto";
import { DomainError } from "../../platform/errors";

/**
 * Content inspection, once for the whole files feature: the content policy of every upload path
 * (files.upload stores at once; files.startUpload's saga checks in its inspect step) and what the
 * file-inspector consumer records. What may be stored is decided by the type sniffed from the bytes,
 * never by the name or the type the client declares; downloads serve the sniffed type. Every caller
 * uses the same rules, so the consumer never relabels what an upload path accepted.
 */
export const ALLOWED_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "application/zip",
  "audio/mpeg",
  "video/mp4",
  "text/plain",
]);
export const IMAGE_TYPES: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** How much of a file without a magic number is read to decide whether it is text. */
const TEXT_SNIFF_BYTES = 64 * 1024;

/**
 * The content type the bytes really have: file-type's magic numbers; else text/plain for UTF-8
 * without a NUL byte in the first 64 KiB; else opaque bytes. A multi-byte character cut at the
 * 64 KiB edge of a longer file is not held against it; the whole of a shorter file must decode.
 */
export async function sniffContentType(bytes: Uint8Array): Promise<string> {
  // Loaded on first use: file-type is ESM-only and only the upload paths and the worker need it.
  const { fileTypeFromBuffer } = await import("file-type");
  const detected = await fileTypeFromBuffer(bytes);
  if (detected) return detected.mime;
  const head = bytes.subarray(0, TEXT_SNIFF_BYTES);
  if (head.includes(0)) return "application/octet-stream";
  try {
    // stream: true keeps an incomplete trailing sequence pending instead of failing on it.
    new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: head.length < bytes.length });
    return "text/plain";
  } catch {
    return "application/octet-stream";
  }
}

/** The checksum recorded for every stored file (hex sha256 of its bytes). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Width and height of an image sharp can read; throws for a damaged or exotic one. */
export async function imageDimensions(bytes: Uint8Array): Promise<{ width: number | null; height: number | null }> {
  const { default: sharp } = await import("sharp");
  const meta = await sharp(bytes).metadata();
  return { width: meta.width ?? null, height: meta.height ?? null };
}

export function notAcceptedMessage(detectedType: string): string {
  return `Files of type ${detectedType} are not accepted (by their content, whatever the name says); allowed: ${[...ALLOWED_TYPES].join(", ")}`;
}

/** The sniffed type of acceptable bytes; a DomainError (415) for anything the policy refuses. */
export async function acceptedContentType(bytes: Uint8Array): Promise<string> {
  const detectedType = await sniffContentType(bytes);
  if (!ALLOWED_TYPES.has(detectedType)) throw new DomainError("unsupported", notAcceptedMessage(detectedType), { detectedType });
  return detectedType;
}

/** The Content-Type a download is served with: the detected one, or opaque bytes until it is known. */
export function servedContentType(file: { detectedType: string | null }): string {
  return file.detectedType ?? "application/octet-stream";
}
