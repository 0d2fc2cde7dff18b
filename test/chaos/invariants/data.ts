/**
 * The data invariants, from PostgreSQL and the storage folder after convergence, against what the
 * load client was told (the ledger). Each check names the ids that break it.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { createDb } from "~/server/platform/db/client";
import { sweepOrphanBlobs } from "~/server/features/files/orphan-blobs";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";
import type { Ledger, MutationOp } from "../load/ledger";
import { check, type Check } from "./check";

const EVENT_OF: Record<MutationOp, string> = {
  upload: "file.uploaded",
  startUpload: "file.uploaded",
  rename: "file.renamed",
  setTags: "file.tagged",
  delete: "file.deleted",
};

interface EventRow {
  id: string;
  event_type: string;
  aggregate_id: string;
  status: string;
  consumed_at: Date | null;
  key: string | null;
}

export interface DataFigures {
  events: number;
  lost: number;
  duplicated: number;
  sagas: Record<string, number>;
  stuckSagas: number;
  activeFiles: number;
  sweptBlobs: number;
  reconciled: string;
}

function walk(root: string, dir = ""): string[] {
  const full = path.join(root, dir);
  let names: string[];
  try {
    names = readdirSync(full);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const rel = dir ? `${dir}/${name}` : name;
    return statSync(path.join(root, rel)).isDirectory() ? walk(root, rel) : [rel];
  });
}

const head = (items: string[]) => (items.length > 20 ? [...items.slice(0, 20), `… and ${items.length - 20} more`] : items);

export async function checkData(databaseUrl: string, storageDir: string, ledger: Ledger): Promise<{ checks: Check[]; figures: DataFigures }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const q = async <T extends object>(sql: string) => (await client.query<T & pg.QueryResultRow>(sql)).rows as T[];
  try {
    const events = await q<EventRow>(`SELECT id, event_type, aggregate_id, status, consumed_at, headers->>'idempotencyKey' AS key FROM outbox_event`);
    const sagas = await q<{ id: string; status: string; key: string | null; file_id: string }>(
      `SELECT id, status, input->'headers'->>'idempotencyKey' AS key, input->>'fileId' AS file_id FROM saga_instance`,
    );
    const files = await q<{ id: string; owner_id: string; status: string; size_bytes: string; storage_key: string; thumbnail_key: string | null }>(
      `SELECT id, owner_id, status, size_bytes::text, storage_key, thumbnail_key FROM file`,
    );
    const users = await q<{ id: string; used_bytes: string; live_sum: string }>(
      `SELECT u.id, u.used_bytes::text, coalesce(sum(f.size_bytes) FILTER (WHERE f.status = 'active'), 0)::text AS live_sum
       FROM app_user u LEFT JOIN file f ON f.owner_id = u.id GROUP BY u.id`,
    );
    // The reconciler's count of events it sent again (issue 9, defect 1); absent on builds without it.
    const reconciled = await q<{ reason: string; total: string }>(`SELECT reason, total::text FROM outbox_reconcile_stat`).catch(() => null);
    const keys = await q<{ key: string; state: string; n: string }>(`SELECT key, min(state::text) AS state, count(*)::text AS n FROM idempotency_key GROUP BY key`);

    const eventsByKey = new Map<string, EventRow[]>();
    for (const e of events) if (e.key) eventsByKey.set(e.key, [...(eventsByKey.get(e.key) ?? []), e]);
    const sagaById = new Map(sagas.map((s) => [s.id, s]));
    const committed = ledger.committed();
    const committedKeys = new Set(committed.map((m) => m.key));

    // 1. Every 2xx change has exactly its event: lost 0, duplicated 0.
    const lost: string[] = [];
    const duplicated: string[] = [];
    for (const m of committed) {
      const saga = m.sagaId ? sagaById.get(m.sagaId) : undefined;
      const mine = (eventsByKey.get(m.key) ?? []).filter((e) => e.event_type === EVENT_OF[m.op]);
      // A saga upload's file.uploaded exists once the saga created the record; a compensated saga may have none.
      const expected = m.op === "startUpload" && saga?.status !== "completed" ? null : 1;
      if (expected === 1 && mine.length === 0) lost.push(`${m.op} key=${m.key} file=${m.fileId}`);
      if (mine.length > 1) duplicated.push(`${m.op} key=${m.key} events=${mine.map((e) => e.id).join(",")}`);
      for (const e of mine) if (m.fileId && e.aggregate_id !== m.fileId) duplicated.push(`${m.op} key=${m.key} event ${e.id} is for file ${e.aggregate_id}, the client was told ${m.fileId}`);
    }
    const foreign = events.filter((e) => !e.key || !committedKeys.has(e.key)).map((e) => `${e.event_type} ${e.id} key=${e.key ?? "none"}`);
    const unconsumed = events.filter((e) => e.status !== "published" || !e.consumed_at).map((e) => `${e.event_type} ${e.id} status=${e.status} consumed=${e.consumed_at ? "yes" : "no"}`);

    // 2. Sagas: each ends completed or compensated; one per saga-upload key, the one the client was told.
    const stuck = sagas.filter((s) => s.status !== "completed" && s.status !== "compensated").map((s) => `saga ${s.id} ${s.status}`);
    const sagaKeyProblems: string[] = [];
    for (const m of committed.filter((c) => c.op === "startUpload")) {
      const forKey = sagas.filter((s) => s.key === m.key);
      if (forKey.length !== 1 || forKey[0]!.id !== m.sagaId) sagaKeyProblems.push(`key=${m.key} told saga ${m.sagaId}, found ${forKey.map((s) => s.id).join(",") || "none"}`);
    }
    for (const s of sagas) if (!s.key || !committedKeys.has(s.key)) sagaKeyProblems.push(`saga ${s.id} key=${s.key ?? "none"} belongs to no 2xx request`);

    // 3. No key executed twice: one file per upload key, and each file row has exactly one file.uploaded.
    const uploadedPerFile = new Map<string, number>();
    for (const e of events) if (e.event_type === "file.uploaded") uploadedPerFile.set(e.aggregate_id, (uploadedPerFile.get(e.aggregate_id) ?? 0) + 1);
    const twice: string[] = [];
    for (const f of files) if ((uploadedPerFile.get(f.id) ?? 0) !== 1) twice.push(`file ${f.id} has ${uploadedPerFile.get(f.id) ?? 0} file.uploaded events`);
    const keyRows = new Map(keys.map((k) => [k.key, k]));
    for (const m of committed) {
      const row = keyRows.get(m.key);
      if (!row || row.n !== "1" || row.state !== "completed") twice.push(`key=${m.key} (${m.op}) idempotency record ${row ? `${row.n} row(s), ${row.state}` : "missing"}`);
    }

    // 4. The files each user should have (what the client was told) are exactly the live ones.
    const expectedLive = new Set<string>();
    for (const m of committed) {
      if (m.op === "upload" && m.fileId) expectedLive.add(m.fileId);
      if (m.op === "startUpload" && m.fileId && m.sagaId && sagaById.get(m.sagaId)?.status === "completed") expectedLive.add(m.fileId);
    }
    for (const m of committed) if (m.op === "delete" && m.fileId) expectedLive.delete(m.fileId);
    const active = files.filter((f) => f.status === "active");
    const activeIds = new Set(active.map((f) => f.id));
    const liveMismatch = [
      ...[...expectedLive].filter((id) => !activeIds.has(id)).map((id) => `file ${id}: the client was told it exists, it is not live`),
      ...[...activeIds].filter((id) => !expectedLive.has(id)).map((id) => `file ${id}: live, but no 2xx upload created it (or a 2xx delete removed it)`),
    ];

    // 5. Quota: used_bytes is the sum of the user's live files (no upload is in flight any more).
    const quota = users.filter((u) => u.used_bytes !== u.live_sum).map((u) => `user ${u.id} used_bytes=${u.used_bytes} live files=${u.live_sum}`);

    // 6. Every live file's blob exists.
    const missingBlobs = active.filter((f) => !walkHas(storageDir, f.storage_key)).map((f) => `file ${f.id} blob ${f.storage_key}`);

    // 7. After the orphan sweep, no blob without an owner.
    const db = createDb(databaseUrl, { max: 2 });
    const sweep = await sweepOrphanBlobs({ db, storage: new LocalDiskStorage(storageDir) }, { olderThan: new Date(Date.now() + 1000), maxDeletes: 100_000 });
    await db.$disconnect();
    const owned = new Set(active.flatMap((f) => [f.storage_key, ...(f.thumbnail_key ? [f.thumbnail_key] : [])]));
    const ownerless = walk(storageDir)
      .filter((key) => !key.startsWith("meta/"))
      .filter((key) => !owned.has(key));

    const sagaCounts: Record<string, number> = {};
    for (const s of sagas) sagaCounts[s.status] = (sagaCounts[s.status] ?? 0) + 1;
    const checks = [
      check("every 2xx change has its event (lost 0)", head(lost), `${committed.length} committed changes, ${events.length} events, lost ${lost.length}`),
      check("no change has two events (duplicated 0)", head(duplicated), `duplicated ${duplicated.length}`),
      check("no event without a 2xx request behind it", head(foreign), `${foreign.length} foreign events`),
      check("every event published and consumed", head(unconsumed), `${unconsumed.length} not consumed`),
      check("every saga completed or compensated (stuck 0)", head(stuck), Object.entries(sagaCounts).map(([k, v]) => `${k} ${v}`).join(", ") || "no sagas"),
      check("one saga per saga-upload key", head(sagaKeyProblems), `${committed.filter((m) => m.op === "startUpload").length} saga uploads`),
      check("no key executed twice (one file per upload key)", head(twice), `${files.length} file rows, ${keys.length} keys`),
      check("live files are exactly those the client was told of", head(liveMismatch), `${active.length} live, ${expectedLive.size} expected`),
      check("used_bytes equals the sum of live files", head(quota), `${users.length} users`),
      check("every live file's blob exists", head(missingBlobs), `${active.length} blobs checked`),
      check("no ownerless blob after the orphan sweep", head(ownerless), `sweep removed ${sweep.deleted} of ${sweep.scanned}${sweep.skipped ? ` (skipped: ${sweep.skipped})` : ""}`),
    ];
    return {
      checks,
      figures: {
        events: events.length,
        lost: lost.length,
        duplicated: duplicated.length,
        sagas: sagaCounts,
        stuckSagas: stuck.length,
        activeFiles: active.length,
        sweptBlobs: sweep.deleted,
        reconciled: reconciled ? reconciled.map((r) => `${r.reason} ${r.total}`).join(", ") || "none" : "no reconciler in this build",
      },
    };
  } finally {
    await client.end();
  }
}

function walkHas(root: string, key: string): boolean {
  try {
    return statSync(path.join(root, key)).isFile();
  } catch {
    return false;
  }
}
