-- Failure groups (error fingerprints recorded with each failure) and bulk operator actions by filter.

-- CreateEnum
CREATE TYPE "BulkOperationStatus" AS ENUM ('pending', 'running', 'completed', 'cancelled', 'failed');

-- AlterTable
ALTER TABLE "outbox_event" ADD COLUMN     "failure_fingerprint" TEXT;

-- AlterTable
ALTER TABLE "saga_instance" ADD COLUMN     "failure_fingerprint" TEXT;

-- CreateTable
CREATE TABLE "bulk_operation" (
    "id" UUID NOT NULL,
    "action" TEXT NOT NULL,
    "status" "BulkOperationStatus" NOT NULL DEFAULT 'pending',
    "filter" JSONB NOT NULL,
    "dry_run_count" INTEGER NOT NULL,
    "batch_size" INTEGER NOT NULL,
    "upper_id" UUID NOT NULL,
    "cursor" UUID,
    "examined" INTEGER NOT NULL DEFAULT 0,
    "affected" INTEGER NOT NULL DEFAULT 0,
    "batches" INTEGER NOT NULL DEFAULT 0,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "actor_id" UUID,
    "actor_email" TEXT NOT NULL,
    "reason" TEXT,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "bulk_operation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "bulk_operation_active_idx" ON "bulk_operation"("updated_at") WHERE (status = ANY (ARRAY['pending'::"BulkOperationStatus", 'running'::"BulkOperationStatus"]));

-- CreateIndex
CREATE INDEX "outbox_event_actionable_idx" ON "outbox_event"("id") WHERE (status = ANY (ARRAY['pending'::"OutboxStatus", 'failed'::"OutboxStatus", 'dead'::"OutboxStatus"]));

-- CreateIndex
CREATE INDEX "outbox_event_failure_group_idx" ON "outbox_event"("failure_fingerprint", "id") WHERE (status = ANY (ARRAY['failed'::"OutboxStatus", 'dead'::"OutboxStatus"]));

-- CreateIndex
CREATE INDEX "saga_instance_failure_group_idx" ON "saga_instance"("failure_fingerprint", "id") WHERE (status = ANY (ARRAY['failed'::"SagaStatus", 'compensated'::"SagaStatus"]));

