import { createHash } from "node:crypto";
import { UnrecoverableError } from "bullmq";
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";
import { payloadOf } from "~/server/contracts/events";
import { BlobNotFoundError } from "~/server/platform/storage/blob-storage";
import type { EventConsumer } from "../../../reliability/outbox/consumer";

/** Bytes with no magic number that read as UTF-8 text with no control characters are text. */
function looksLikeText(bytes: Buffer): boolean {
  const sample = bytes.subarray(0, 64 * 1024);
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(sample);
    return !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  } catch {
    // A multi-byte character cut at the sample's end is not binary: retry without the last 3 bytes.
    return sample.length === bytes.length ? false : looksLikeText(sample.subarray(0, sample.length - 3));
  }
}

/**
 * file.uploaded → what the bytes really are: sha256 checksum, the content type detected from the
 * bytes (the client's declared type is kept separately), and image dimensions for images.
 */
export const fileInspector: EventConsumer = {
  name: "file-inspector",
  handles: ["file.uploaded"],
  async handle(event, { tx, storage }) {
    const p = payloadOf(event, "file.uploaded");
    const file = await tx.file.findUnique({ where: { id: p.fileId }, select: { status: true, storageKey: true, checksumSha256: true, detectedType: true } });
    // Not live (deleted by its owner, or `failed`: an upload saga compensated it and removed its
    // blob): nothing to inspect. Its file.deleted event waits behind this one, so this must end
    // quietly — dead-lettering it would block that event and the blob's clean-up.
    if (!file || file.status !== "active") return;
    // Already inspected from the same bytes (the upload saga's inspect and derive steps): done.
    if (file.checksumSha256 && file.detectedType) return;
    let bytes: Buffer;
    try {
      bytes = await storage.readAll(file.storageKey);
    } catch (error) {
      // A live file without its blob will not heal by retrying: straight to dead, for an operator.
      if (error instanceof BlobNotFoundError) throw new UnrecoverableError(`the blob ${file.storageKey} of live file ${p.fileId} is missing`);
      throw error;
    }
    const checksumSha256 = createHash("sha256").update(bytes).digest("hex");
    const detected = await fileTypeFromBuffer(bytes);
    const detectedType = detected?.mime ?? (looksLikeText(bytes) ? "text/plain" : "application/octet-stream");
    let width: number | null = null;
    let height: number | null = null;
    if (detectedType.startsWith("image/")) {
      // An image sharp cannot read (truncated, exotic) keeps its checksum and type, without size.
      const meta = await sharp(bytes).metadata().catch(() => null);
      width = meta?.width ?? null;
      height = meta?.height ?? null;
    }
    await tx.file.update({ where: { id: p.fileId }, data: { checksumSha256, detectedType, width, height } });
  },
};
