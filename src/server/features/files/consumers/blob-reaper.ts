import { payloadOf } from "~/server/contracts/events";
import type { EventConsumer } from "../../../reliability/outbox/consumer";

/**
 * file.deleted → remove the stored blob, once no live file references its storage key. (Deletes
 * are soft: the record stays for history, the bytes go.) Deleting a missing blob is a no-op, so a
 * repeated run is harmless.
 */
export const blobReaper: EventConsumer = {
  name: "blob-reaper",
  handles: ["file.deleted"],
  async handle(event, { tx, storage, logger }) {
    const p = payloadOf(event, "file.deleted");
    const live = await tx.file.count({ where: { storageKey: p.storageKey, status: { not: "deleted" } } });
    if (live > 0) {
      logger.info({ storageKey: p.storageKey, live }, "blob still referenced by a live file; kept");
      return;
    }
    await storage.delete(p.storageKey);
  },
};
