-- AlterTable
ALTER TABLE "idempotency_key" ADD COLUMN     "correlation_id" TEXT;

-- AlterTable
ALTER TABLE "outbox_event" ADD COLUMN     "correlation_id" TEXT;

-- AlterTable
ALTER TABLE "saga_instance" ADD COLUMN     "traceparent" TEXT;

-- AlterTable
ALTER TABLE "saga_step_log" ADD COLUMN     "correlation_id" TEXT;

-- CreateTable
CREATE TABLE "outbox_consumer_run" (
    "id" UUID NOT NULL,
    "event_id" UUID NOT NULL,
    "consumer" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "outcome" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3) NOT NULL,
    "error" TEXT,

    CONSTRAINT "outbox_consumer_run_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "outbox_consumer_run_event_id_idx" ON "outbox_consumer_run"("event_id");

-- CreateIndex
CREATE INDEX "idempotency_key_correlation_id_idx" ON "idempotency_key"("correlation_id");

-- CreateIndex
CREATE INDEX "outbox_event_correlation_idx" ON "outbox_event"("correlation_id") WHERE (correlation_id IS NOT NULL);

-- AddForeignKey
ALTER TABLE "outbox_consumer_run" ADD CONSTRAINT "outbox_consumer_run_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "outbox_event"("id") ON DELETE CASCADE ON UPDATE CASCADE;
