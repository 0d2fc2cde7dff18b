-- Bulk actions on sagas (issue 13): one bulk_operation table for every target, told apart by `target`.
ALTER TABLE "bulk_operation" ADD COLUMN "target" TEXT NOT NULL DEFAULT 'outbox';

-- Keyset batches of a bulk action on sagas walk only the sagas an operator can act on.
CREATE INDEX "saga_instance_actionable_idx" ON "saga_instance"("id") WHERE status = ANY (ARRAY['running'::"SagaStatus", 'compensating'::"SagaStatus", 'failed'::"SagaStatus", 'compensated'::"SagaStatus", 'aborted'::"SagaStatus"]);
