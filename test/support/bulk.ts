import type { Db } from "~/server/platform/db/client";

/**
 * Seed outbox events straight in SQL (fast: tens of thousands in a statement). Ids are UUIDv7-shaped
 * and in the past (ids are time-ordered, and a bulk run leaves ids newer than its start alone).
 * Payload: { fileId, ownerId, tags: [tag], batch: <n mod 10> } for JSON-path filters.
 */
export async function seedOutboxEvents(
  db: Db,
  opts: { count: number; status: "pending" | "failed" | "dead" | "published"; eventType?: string; error?: string | null; fingerprint?: string | null; tag?: string; offset?: number },
) {
  const base = Date.now() - 10 * 60_000 - (opts.offset ?? 0) * 1_000;
  await db.$executeRawUnsafe(
    `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, attempts, last_error, last_failed_at, failure_fingerprint, published_at, consumed_at, created_at)
     SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' || substr(r, 7, 12))::uuid,
            'file', r, 1, $1::text, jsonb_build_object('fileId', r, 'ownerId', 'owner-' || (g % 3), 'tags', jsonb_build_array($5::text), 'batch', g % 10),
            $2::"OutboxStatus", CASE WHEN $2::text IN ('failed', 'dead') THEN 1 ELSE 0 END, $3::text, CASE WHEN $3::text IS NULL THEN NULL ELSE now() END, $4::text,
            CASE WHEN $2::text = 'published' THEN now() END, CASE WHEN $2::text = 'published' THEN now() END, to_timestamp(($6::bigint + g) / 1000.0)
     FROM generate_series(1, $7::int) g,
          LATERAL (SELECT lpad(to_hex($6::bigint + g), 12, '0') AS h, md5(random()::text || g::text) AS r) x`,
    opts.eventType ?? "file.tagged",
    opts.status,
    opts.error ?? (opts.status === "failed" || opts.status === "dead" ? "broker timeout" : null),
    opts.fingerprint ?? null,
    opts.tag ?? "t",
    base,
    opts.count,
  );
}

/**
 * Seed sagas straight in SQL, UUIDv7-shaped ids in the past (like seedOutboxEvents), with no step
 * log: a redrive runs them again from their first step. Type defaults to the app's file.upload saga
 * (the registry must know it for an operator to drive it); updated_at is `idleMinutes` ago.
 */
export async function seedSagas(
  db: Db,
  opts: { count: number; status: "running" | "compensating" | "completed" | "compensated" | "failed" | "aborted"; type?: string; currentStep?: number; error?: string | null; fingerprint?: string | null; idleMinutes?: number; offset?: number },
) {
  const base = Date.now() - 10 * 60_000 - (opts.offset ?? 0) * 1_000;
  await db.$executeRawUnsafe(
    `INSERT INTO saga_instance (id, type, status, current_step, input, context, last_error, failure_fingerprint, version, created_at, updated_at, finished_at)
     SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' || substr(r, 7, 12))::uuid,
            $1::text, $2::"SagaStatus", $3::int, jsonb_build_object('n', g), '{"generation": 0, "outputs": {}}'::jsonb, $4::text, $5::text, 0,
            to_timestamp(($6::bigint + g) / 1000.0), now() - $7::int * interval '1 minute',
            CASE WHEN $2::text IN ('completed', 'compensated', 'failed', 'aborted') THEN now() END
     FROM generate_series(1, $8::int) g,
          LATERAL (SELECT lpad(to_hex($6::bigint + g), 12, '0') AS h, md5(random()::text || g::text) AS r) x`,
    opts.type ?? "file.upload",
    opts.status,
    opts.currentStep ?? 0,
    opts.error ?? (["failed", "compensated"].includes(opts.status) ? "step store-blob: storage unavailable" : null),
    opts.fingerprint ?? null,
    base,
    opts.idleMinutes ?? 0,
    opts.count,
  );
}
