-- CreateTable
CREATE TABLE "operator_audit" (
    "id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_id" UUID,
    "actor_email" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_kind" TEXT NOT NULL,
    "target_ids" JSONB NOT NULL DEFAULT '[]',
    "filter" JSONB,
    "dry_run_count" INTEGER,
    "affected_count" INTEGER,
    "reason" TEXT,
    "correlation_id" TEXT,
    "outcome" TEXT NOT NULL,

    CONSTRAINT "operator_audit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "operator_audit_actor_id_id_idx" ON "operator_audit"("actor_id", "id");

-- CreateIndex
CREATE INDEX "operator_audit_action_id_idx" ON "operator_audit"("action", "id");

-- CreateIndex
CREATE INDEX "operator_audit_correlation_idx" ON "operator_audit"("correlation_id") WHERE (correlation_id IS NOT NULL);

-- CreateIndex
CREATE INDEX "operator_audit_target_ids_idx" ON "operator_audit" USING GIN ("target_ids" jsonb_path_ops);

-- The audit log is append-only for every role, the app's included: no row is ever changed or
-- removed through SQL the app (or anyone without the right to drop this trigger) can send.
CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'operator_audit is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege', HINT = 'audit rows are never changed or deleted';
END;
$$;

CREATE TRIGGER operator_audit_no_update_delete
  BEFORE UPDATE OR DELETE ON "operator_audit"
  FOR EACH ROW EXECUTE FUNCTION operator_audit_append_only();

CREATE TRIGGER operator_audit_no_truncate
  BEFORE TRUNCATE ON "operator_audit"
  FOR EACH STATEMENT EXECUTE FUNCTION operator_audit_append_only();
