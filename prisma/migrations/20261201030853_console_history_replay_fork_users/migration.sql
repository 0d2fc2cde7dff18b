-- CreateEnum
CREATE TYPE "AttemptOutcome" AS ENUM ('succeeded', 'failed');

-- AlterTable
ALTER TABLE "app_user" ADD COLUMN     "must_change_password" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "password_expires_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "outbox_event" ADD COLUMN     "replay_of" UUID;

-- AlterTable
ALTER TABLE "saga_instance" ADD COLUMN     "forked_from" UUID,
ADD COLUMN     "forked_from_step" INTEGER;

-- CreateTable
CREATE TABLE "outbox_delivery_attempt" (
    "id" UUID NOT NULL,
    "event_id" UUID NOT NULL,
    "consumer" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "outcome" "AttemptOutcome" NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "error" TEXT,
    "worker" TEXT NOT NULL,

    CONSTRAINT "outbox_delivery_attempt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "saga_step_attempt" (
    "id" UUID NOT NULL,
    "saga_id" UUID NOT NULL,
    "step_index" INTEGER NOT NULL,
    "step_name" TEXT NOT NULL,
    "phase" "SagaPhase" NOT NULL,
    "generation" INTEGER NOT NULL,
    "attempt" INTEGER NOT NULL,
    "outcome" "AttemptOutcome" NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "error" TEXT,
    "worker" TEXT NOT NULL,

    CONSTRAINT "saga_step_attempt_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "outbox_delivery_attempt_event_id_started_at_idx" ON "outbox_delivery_attempt"("event_id", "started_at");

-- CreateIndex
CREATE INDEX "saga_step_attempt_saga_id_started_at_idx" ON "saga_step_attempt"("saga_id", "started_at");

-- CreateIndex
CREATE INDEX "outbox_event_replay_of_idx" ON "outbox_event"("replay_of") WHERE (replay_of IS NOT NULL);

-- CreateIndex
CREATE INDEX "saga_instance_forked_from_idx" ON "saga_instance"("forked_from") WHERE (forked_from IS NOT NULL);

-- AddForeignKey
ALTER TABLE "outbox_delivery_attempt" ADD CONSTRAINT "outbox_delivery_attempt_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "outbox_event"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "saga_step_attempt" ADD CONSTRAINT "saga_step_attempt_saga_id_fkey" FOREIGN KEY ("saga_id") REFERENCES "saga_instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;
