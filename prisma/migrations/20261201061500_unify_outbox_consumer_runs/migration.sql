-- One table records consumer runs: outbox_delivery_attempt (the attempt history) also serves the
-- trace page, which read outbox_consumer_run until now. A run the trace table kept and the history
-- lacks (a duplicate delivery, or one written before the history existed) is copied over first.

CREATE TYPE "DeliveryOutcome" AS ENUM ('succeeded', 'duplicate', 'failed');

ALTER TABLE "outbox_delivery_attempt"
  ALTER COLUMN "outcome" TYPE "DeliveryOutcome" USING ("outcome"::text::"DeliveryOutcome");

INSERT INTO "outbox_delivery_attempt" ("id", "event_id", "consumer", "attempt", "outcome", "started_at", "duration_ms", "error", "worker")
SELECT r."id", r."event_id", r."consumer", r."attempt", o."outcome", r."started_at",
       GREATEST(0, LEAST(2147483647, round(extract(epoch FROM (r."finished_at" - r."started_at")) * 1000)))::int,
       r."error", 'unknown'
FROM "outbox_consumer_run" r
CROSS JOIN LATERAL (
  SELECT (CASE r."outcome" WHEN 'handled' THEN 'succeeded' WHEN 'duplicate' THEN 'duplicate' ELSE 'failed' END)::"DeliveryOutcome" AS "outcome"
) o
WHERE NOT EXISTS (
  SELECT 1 FROM "outbox_delivery_attempt" a
  WHERE a."event_id" = r."event_id" AND a."consumer" = r."consumer" AND a."attempt" = r."attempt" AND a."outcome" = o."outcome"
)
ON CONFLICT ("id") DO NOTHING;

DROP TABLE "outbox_consumer_run";
