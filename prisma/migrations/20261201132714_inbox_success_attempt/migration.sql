-- A consumer's successful delivery attempt is kept in its inbox row (attempt, start, duration, worker)
-- instead of a second row in outbox_delivery_attempt: one row per event and consumer on the hot
-- path. Failures and duplicates stay in outbox_delivery_attempt; readers take both. The key is
-- reordered event first, so reading an event's inbox rows (event page, trace) is an index lookup
-- with no extra index to maintain on every insert.
-- AlterTable
ALTER TABLE "inbox_entry" DROP CONSTRAINT "inbox_entry_pkey",
ADD COLUMN     "attempt" INTEGER,
ADD COLUMN     "duration_ms" INTEGER,
ADD COLUMN     "started_at" TIMESTAMPTZ(3),
ADD COLUMN     "worker" TEXT,
ADD CONSTRAINT "inbox_entry_pkey" PRIMARY KEY ("event_id", "consumer");
