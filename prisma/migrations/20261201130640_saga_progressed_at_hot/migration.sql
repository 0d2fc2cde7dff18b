-- AlterTable
ALTER TABLE "saga_instance" ADD COLUMN     "progressed_at" TIMESTAMPTZ(3);

-- Room on each page for a step's new row version, so the UPDATE can be HOT (same page, no index
-- writes). Applies to pages written from now on; Prisma's schema has no word for it.
ALTER TABLE "saga_instance" SET (fillfactor = 80);
ALTER TABLE "saga_step_log" SET (fillfactor = 80);
