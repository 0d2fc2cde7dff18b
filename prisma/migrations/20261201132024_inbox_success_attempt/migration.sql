-- A consumer's successful delivery attempt is kept in its inbox row (attempt, start, duration, worker)
-- instead of a second row in outbox_delivery_attempt: one row per event and consumer on the hot
-- path. Failures and duplicates stay in outbox_delivery_attempt; readers take both.
-- AlterTable
ALTER TABLE "inbox_entry" ADD COLUMN     "attempt" INTEGER,
ADD COLUMN     "duration_ms" INTEGER,
ADD COLUMN     "started_at" TIMESTAMPTZ(3),
ADD COLUMN     "worker" TEXT;
