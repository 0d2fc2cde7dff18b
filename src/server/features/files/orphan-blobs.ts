import type { Db } from "../../platform/db/client";
import type { BlobStorage } from "../../platform/storage/blob-storage";

/**
 * Blobs can outlive the records that would point at them in a few crash or rollback windows:
 * bytes staged for an upload whose request then failed, a stored blob whose saga died before its
 * record, the temp file of a write interrupted mid-way, a blob left by a rolled-back transaction.
 * None is a double effect, only wasted space: this sweep removes a blob once it is older than a
 * grace period and nothing in PostgreSQL can still need it.
 *
 * "Still needed" means: a live (not deleted) file row names it as content or thumbnail, or a saga
 * that may still resume or compensate (running, compensating, failed) names its file or staging key.
 * The grace period keeps the sweep away from writes in flight (a blob is written before its row).
 */
// files/<ownerId>/<fileId>, thumbs/<ownerId>/<fileId>.webp, staging/<sagaId>
const SWEPT_PREFIXES = ["files/", "thumbs/", "staging/"] as const;

export interface SweepResult {
  scanned: number;
  deleted: number;
  keys: string[];
  /** Set when the sweep refused to run (see claimStorage). */
  skipped?: string;
}

const OWNER_KEY = "meta/owner.json";

/**
 * A storage folder belongs to one database: seen from any other database, all of its blobs look
 * like orphans. The first sweep writes the database's identity into the storage; a sweep from
 * another database finds a different one and refuses, rather than deleting someone else's files.
 */
async function claimStorage(deps: { db: Db; storage: BlobStorage }): Promise<string | null> {
  const [row] = await deps.db.$queryRaw<Array<{ identity: string }>>`
    SELECT current_database() || '@' || coalesce(host(inet_server_addr()), 'local') || ':' || coalesce(inet_server_port()::text, '') AS identity`;
  const identity = row!.identity;
  if (await deps.storage.exists(OWNER_KEY)) {
    const owner = (JSON.parse((await deps.storage.readAll(OWNER_KEY)).toString("utf8")) as { database?: string }).database;
    return owner === identity ? null : `the storage belongs to database ${owner}, not ${identity}`;
  }
  await deps.storage.put(OWNER_KEY, Buffer.from(JSON.stringify({ database: identity, claimedAt: new Date().toISOString() })));
  return null;
}

export async function sweepOrphanBlobs(
  deps: { db: Db; storage: BlobStorage },
  opts: { olderThan: Date; maxDeletes?: number },
): Promise<SweepResult> {
  const result: SweepResult = { scanned: 0, deleted: 0, keys: [] };
  const refused = await claimStorage(deps);
  if (refused) return { ...result, skipped: refused };
  const maxDeletes = opts.maxDeletes ?? 1000;
  for (const prefix of SWEPT_PREFIXES) {
    // Collect candidates old enough, then ask PostgreSQL about them in one query per batch.
    let batch: string[] = [];
    const flush = async () => {
      const orphans = await findUnreferenced(deps.db, batch);
      for (const key of orphans) {
        if (result.deleted >= maxDeletes) break;
        await deps.storage.delete(key);
        result.deleted++;
        result.keys.push(key);
      }
      batch = [];
    };
    for await (const blob of deps.storage.list(prefix)) {
      result.scanned++;
      if (blob.modifiedAt >= opts.olderThan) continue;
      // The temp file of an interrupted write is never referenced by anything.
      if (blob.key.endsWith(".part")) {
        if (result.deleted < maxDeletes) {
          await deps.storage.delete(blob.key);
          result.deleted++;
          result.keys.push(blob.key);
        }
        continue;
      }
      batch.push(blob.key);
      if (batch.length >= 500) await flush();
      if (result.deleted >= maxDeletes) return result;
    }
    if (batch.length) await flush();
  }
  return result;
}

/** The keys among these that no live file and no resumable saga refers to. */
async function findUnreferenced(db: Db, keys: string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const rows = await db.$queryRaw<Array<{ key: string }>>`
    SELECT k.key FROM unnest(${keys}::text[]) AS k(key)
    WHERE NOT EXISTS (
      SELECT 1 FROM file f
      WHERE (f.storage_key = k.key OR f.thumbnail_key = k.key) AND f.status <> 'deleted'
    )
    AND NOT EXISTS (
      SELECT 1 FROM saga_instance s
      WHERE s.status IN ('running', 'compensating', 'failed')
        AND (s.input->>'stagingKey' = k.key
             OR ('files/' || (s.input->>'ownerId') || '/' || (s.input->>'fileId')) = k.key
             OR ('thumbs/' || (s.input->>'ownerId') || '/' || (s.input->>'fileId') || '.webp') = k.key)
    )`;
  return rows.map((r) => r.key);
}
