import { DomainError } from "../../platform/errors";

/**
 * The one content policy for every upload path (files.upload stores at once; files.startUpload's
 * saga checks in its inspect step): what may be stored is decided by the type detected from the
 * bytes, never by the name or the type the client declares. Downloads serve the detected type.
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

/** The content type the bytes really have: file-type's magic numbers, else UTF-8 text, else unknown. */
export async function detectType(bytes: Uint8Array): Promise<string> {
  const { fileTypeFromBuffer } = await import("file-type");
  const detected = await fileTypeFromBuffer(bytes);
  if (detected) return detected.mime;
  const head = bytes.subarray(0, 64 * 1024);
  if (head.includes(0)) return "application/octet-stream";
  try {
    // A multi-byte character may be cut at the 64 KiB edge: decode leniently there, strictly before it.
    new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 4)));
    return "text/plain";
  } catch {
    return "application/octet-stream";
  }
}

export function notAcceptedMessage(detectedType: string): string {
  return `Files of type ${detectedType} are not accepted (by their content, whatever the name says); allowed: ${[...ALLOWED_TYPES].join(", ")}`;
}

/** The detected type of acceptable bytes; a DomainError (415) for anything the policy refuses. */
export async function acceptedContentType(bytes: Uint8Array): Promise<string> {
  const detectedType = await detectType(bytes);
  if (!ALLOWED_TYPES.has(detectedType)) throw new DomainError("unsupported", notAcceptedMessage(detectedType), { detectedType });
  return detectedType;
}

/** The Content-Type a download is served with: the detected one, or opaque bytes until it is known. */
export function servedContentType(file: { detectedType: string | null }): string {
  return file.detectedType ?? "application/octet-stream";
}
