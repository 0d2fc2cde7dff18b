-- CreateTable
CREATE TABLE "outbox_reconcile_stat" (
    "reason" TEXT NOT NULL,
    "total" BIGINT NOT NULL DEFAULT 0,
    "last_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "outbox_reconcile_stat_pkey" PRIMARY KEY ("reason")
);

-- CreateIndex
CREATE INDEX "outbox_event_inflight_idx" ON "outbox_event"("published_at", "id") WHERE (status = 'published' AND consumed_at IS NULL);

