import { UnrecoverableError } from "bullmq";
import { payloadOf } from "~/server/contracts/events";
import { BlobNotFoundError } from "~/server/platform/storage/blob-storage";
import type { EventConsumer } from "../../../reliability/outbox/consumer";
import { IMAGE_TYPES, imageDimensions, sha256Hex, sniffContentType } from "../content-inspection";

/**
 * file.uploaded → what the bytes really are: sha256 checksum, the content type sniffed from the
 * bytes (the client's declared type is kept separately), and image dimensions for images. The
 * rules are the upload paths' own (content-inspection.ts), so this never relabels what they accepted.
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
    const checksumSha256 = sha256Hex(bytes);
    const detectedType = await sniffContentType(bytes);
    // An image sharp cannot read (truncated, exotic) keeps its checksum and type, without size.
    const { width, height } = IMAGE_TYPES.has(detectedType)
      ? await imageDimensions(bytes).catch(() => ({ width: null, height: null }))
      : { width: null, height: null };
    await tx.file.update({ where: { id: p.fileId }, data: { checksumSha256, detectedType, width, height } });
  },
};
