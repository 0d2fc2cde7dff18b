-- Dashboard reads that still grew with the tables (bench/dashboard.ts): failure groups, the outbox's
-- text-in-the-error search and one user's idempotency records.

-- ─── Failure groups: a counter table kept by triggers ───────────────────────────────────────────
-- One row per (source, fingerprint, type, status) of the failing rows (outbox: failed/dead events;
-- sagas: failed/compensated): the groups page reads O(groups) rows instead of GROUP BY over every
-- failure. '' stands for "no fingerprint" (a primary key column cannot be NULL).
CREATE TABLE "failure_group_count" (
    "source" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "count" INTEGER NOT NULL,
    "first_seen" TIMESTAMPTZ(3),
    "last_seen" TIMESTAMPTZ(3),
    "sample_id" UUID,
    CONSTRAINT "failure_group_count_pkey" PRIMARY KEY ("source","fingerprint","type","status")
);

-- Statement-level triggers with transition tables, so that
--   * every writer (relay, consumers, saga runner, operator actions, bulk runs, retention, raw SQL)
--     keeps the counts in its own transaction, with nothing to remember in application code;
--   * one statement's changes are netted per key and applied in key order: two statements never
--     lock the same counter rows in opposite orders (no deadlock between, say, two relays' claims
--     of failed events of several groups, which row-level triggers would risk);
--   * a statement that touches no failing row (appends, claims of pending events, publishes,
--     consumes: the hot path) leaves after one cached check of its transition tables.
-- TG_ARGV: source name, type column, "seen" column, the failing statuses as an SQL array of the
-- table's enum (spelled so the partial failure-group index's predicate is provable), and as text[].
CREATE FUNCTION "failure_group_count_track"() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  src text := TG_ARGV[0];
  failing text := TG_ARGV[3];
  statuses text[] := TG_ARGV[4]::text[];
  part text;
  delta text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM failure_group_count WHERE source = src;
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.status::text = ANY (statuses)) THEN RETURN NULL; END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.status::text = ANY (statuses)) THEN RETURN NULL; END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.status::text = ANY (statuses))
    AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.status::text = ANY (statuses)) THEN
    RETURN NULL;
  END IF;
  part := format(
    'SELECT coalesce(failure_fingerprint, '''') AS fingerprint, %I AS type, status::text AS status, %%s AS d, %I AS seen, id FROM %%I WHERE status = ANY (%s)',
    TG_ARGV[1], TG_ARGV[2], failing);
  delta := CASE TG_OP
    WHEN 'INSERT' THEN format(part, 1, 'new_rows')
    WHEN 'DELETE' THEN format(part, -1, 'old_rows')
    ELSE format(part, -1, 'old_rows') || ' UNION ALL ' || format(part, 1, 'new_rows') END;
  -- Net change per key, applied in key order. A row that stays in its key (failed again) nets 0
  -- and moves last_seen. first_seen/last_seen only widen: they span the group's failures since its
  -- count was last zero (the row is deleted then).
  EXECUTE format($q$
    INSERT INTO failure_group_count AS c (source, fingerprint, type, status, count, first_seen, last_seen, sample_id)
    SELECT %L, fingerprint, type, status, sum(d)::int, min(seen) FILTER (WHERE d > 0), max(seen) FILTER (WHERE d > 0),
           max(id::text) FILTER (WHERE d > 0)::uuid
    FROM (%s) delta GROUP BY fingerprint, type, status ORDER BY fingerprint, type, status
    ON CONFLICT (source, fingerprint, type, status) DO UPDATE SET
      count = c.count + excluded.count,
      first_seen = least(c.first_seen, excluded.first_seen),
      last_seen = greatest(c.last_seen, excluded.last_seen),
      sample_id = greatest(c.sample_id, excluded.sample_id)$q$, src, delta);
  DELETE FROM failure_group_count WHERE source = src AND count <= 0;
  IF TG_OP <> 'INSERT' THEN
    -- A sample that left its key is replaced by the key's newest member (a step down the partial
    -- failure-group index on (failure_fingerprint, id)); recomputing it for a sample that stayed is
    -- harmless (it is still the newest, or a newer member is).
    EXECUTE format($q$
      UPDATE failure_group_count c SET sample_id = coalesce(
        (SELECT t.id FROM %1$I t WHERE c.fingerprint <> '' AND t.failure_fingerprint = c.fingerprint
           AND t.status = ANY (%2$s) AND t.status::text = c.status AND t.%3$I = c.type ORDER BY t.id DESC LIMIT 1),
        (SELECT t.id FROM %1$I t WHERE c.fingerprint = '' AND t.failure_fingerprint IS NULL
           AND t.status = ANY (%2$s) AND t.status::text = c.status AND t.%3$I = c.type ORDER BY t.id DESC LIMIT 1))
      WHERE c.source = %4$L AND c.sample_id IN (SELECT o.id FROM old_rows o)$q$,
      TG_TABLE_NAME, failing, TG_ARGV[1], src);
  END IF;
  RETURN NULL;
END
$fn$;

-- Transition tables allow one event per trigger: three triggers per table, and one for TRUNCATE.
CREATE TRIGGER "outbox_event_failure_groups_insert" AFTER INSERT ON "outbox_event" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('outbox', 'event_type', 'last_failed_at', 'ARRAY[''failed'',''dead'']::"OutboxStatus"[]', '{failed,dead}');
CREATE TRIGGER "outbox_event_failure_groups_update" AFTER UPDATE ON "outbox_event" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('outbox', 'event_type', 'last_failed_at', 'ARRAY[''failed'',''dead'']::"OutboxStatus"[]', '{failed,dead}');
CREATE TRIGGER "outbox_event_failure_groups_delete" AFTER DELETE ON "outbox_event" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('outbox', 'event_type', 'last_failed_at', 'ARRAY[''failed'',''dead'']::"OutboxStatus"[]', '{failed,dead}');
CREATE TRIGGER "outbox_event_failure_groups_truncate" AFTER TRUNCATE ON "outbox_event"
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('outbox', 'event_type', 'last_failed_at', 'ARRAY[''failed'',''dead'']::"OutboxStatus"[]', '{failed,dead}');

CREATE TRIGGER "saga_instance_failure_groups_insert" AFTER INSERT ON "saga_instance" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('saga', 'type', 'updated_at', 'ARRAY[''failed'',''compensated'']::"SagaStatus"[]', '{failed,compensated}');
CREATE TRIGGER "saga_instance_failure_groups_update" AFTER UPDATE ON "saga_instance" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('saga', 'type', 'updated_at', 'ARRAY[''failed'',''compensated'']::"SagaStatus"[]', '{failed,compensated}');
CREATE TRIGGER "saga_instance_failure_groups_delete" AFTER DELETE ON "saga_instance" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('saga', 'type', 'updated_at', 'ARRAY[''failed'',''compensated'']::"SagaStatus"[]', '{failed,compensated}');
CREATE TRIGGER "saga_instance_failure_groups_truncate" AFTER TRUNCATE ON "saga_instance"
  FOR EACH STATEMENT EXECUTE FUNCTION failure_group_count_track('saga', 'type', 'updated_at', 'ARRAY[''failed'',''compensated'']::"SagaStatus"[]', '{failed,compensated}');

-- Backfill from the rows already failing.
INSERT INTO failure_group_count (source, fingerprint, type, status, count, first_seen, last_seen, sample_id)
SELECT 'outbox', coalesce(failure_fingerprint, ''), event_type, status::text, count(*)::int, min(last_failed_at), max(last_failed_at), max(id::text)::uuid
FROM outbox_event WHERE status = ANY (ARRAY['failed','dead']::"OutboxStatus"[]) GROUP BY 2, 3, 4;
INSERT INTO failure_group_count (source, fingerprint, type, status, count, first_seen, last_seen, sample_id)
SELECT 'saga', coalesce(failure_fingerprint, ''), type, status::text, count(*)::int, min(updated_at), max(updated_at), max(id::text)::uuid
FROM saga_instance WHERE status = ANY (ARRAY['failed','compensated']::"SagaStatus"[]) GROUP BY 2, 3, 4;

-- ─── Outbox text-in-the-error search ────────────────────────────────────────────────────────────
-- ILIKE '%…%' on the error of rows that ever failed (the search's own condition): a trigram
-- lookup instead of reading every failed row's error (pg_trgm was created by 20261201060000).
CREATE INDEX "outbox_event_error_trgm_idx" ON "outbox_event" USING GIN ("last_error" gin_trgm_ops) WHERE (last_failed_at IS NOT NULL);

-- ─── One user's idempotency records ────────────────────────────────────────────────────────────
-- The user part of the scope (`<userId>:<procedure>`) as a column, set from the scope by a trigger
-- on every write (whoever writes), with an index that pages a user's records newest first. The
-- trigram index on scope cannot: a UUID's trigrams ("000", "-40" …) are in nearly every row.
ALTER TABLE "idempotency_key" ADD COLUMN "user_id" TEXT;
CREATE FUNCTION "idempotency_key_user_from_scope"() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.user_id := CASE WHEN position(':' IN NEW.scope) > 0 THEN split_part(NEW.scope, ':', 1) ELSE '' END;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER "idempotency_key_user_id" BEFORE INSERT OR UPDATE OF scope ON "idempotency_key"
  FOR EACH ROW EXECUTE FUNCTION idempotency_key_user_from_scope();
UPDATE "idempotency_key" SET user_id = CASE WHEN position(':' IN scope) > 0 THEN split_part(scope, ':', 1) ELSE '' END;
CREATE INDEX "idempotency_key_user_id_id_idx" ON "idempotency_key"("user_id", "id");
