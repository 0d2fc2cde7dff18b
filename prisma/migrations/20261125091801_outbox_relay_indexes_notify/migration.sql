-- DropIndex
DROP INDEX "outbox_event_event_type_created_at_idx";

-- DropIndex
DROP INDEX "outbox_event_status_created_at_idx";

-- AlterTable
ALTER TABLE "outbox_event" ADD COLUMN     "last_failed_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "outbox_event_status_id_idx" ON "outbox_event"("status", "id");

-- CreateIndex
CREATE INDEX "outbox_event_event_type_id_idx" ON "outbox_event"("event_type", "id");

-- CreateIndex
CREATE INDEX "outbox_event_unconsumed_idx" ON "outbox_event"("aggregate_type", "aggregate_id", "aggregate_seq") WHERE (consumed_at IS NULL AND status <> 'discarded');

-- CreateIndex
CREATE INDEX "outbox_event_failed_idx" ON "outbox_event"("last_failed_at") WHERE (last_failed_at IS NOT NULL);

-- Wake the relays when events commit. NOTIFY is delivered at COMMIT (never for a rolled-back
-- transaction) and identical notifications of one transaction are folded into one, so a
-- statement-level trigger costs one notification per writing transaction, not per row.
-- (Prisma's schema language has no triggers: this lives only in the migration.)
CREATE FUNCTION outbox_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_event', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_event_notify
  AFTER INSERT ON "outbox_event"
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_event_notify();
