-- Dashboard reads whose cost must not grow with the tables (bench/dashboard.ts measures them).

-- The stalled list, newest first: only published-but-unconsumed rows are in it.
CREATE INDEX "outbox_event_unconsumed_id_idx" ON "outbox_event"("id") WHERE (consumed_at IS NULL AND published_at IS NOT NULL);

-- In-progress idempotency records (completed_at IS NULL): their list page and the in-progress/abandoned counts.
CREATE INDEX "idempotency_key_in_progress_idx" ON "idempotency_key"("id") WHERE (completed_at IS NULL);

-- Text-in-the-error search of sagas walks only the sagas that have an error.
CREATE INDEX "saga_instance_error_idx" ON "saga_instance"("id") WHERE (last_error IS NOT NULL);

-- Trigram indexes (pg_trgm is a trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- A user's idempotency records (scope LIKE '<userId>:%') and a procedure's (LIKE '%:<procedure>'),
-- in any collation (a btree serves a LIKE prefix only in the C collation).
CREATE INDEX "idempotency_key_scope_trgm_idx" ON "idempotency_key" USING GIN ("scope" gin_trgm_ops);

-- Audit text search: ILIKE '%…%' on reason, action and correlation id.
CREATE INDEX "operator_audit_reason_trgm_idx" ON "operator_audit" USING GIN ("reason" gin_trgm_ops);
CREATE INDEX "operator_audit_action_trgm_idx" ON "operator_audit" USING GIN ("action" gin_trgm_ops);
CREATE INDEX "operator_audit_correlation_trgm_idx" ON "operator_audit" USING GIN ("correlation_id" gin_trgm_ops);
