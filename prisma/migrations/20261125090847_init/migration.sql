-- CreateEnum
CREATE TYPE "Role" AS ENUM ('user', 'viewer', 'operator');

-- CreateEnum
CREATE TYPE "FileStatus" AS ENUM ('active', 'deleted', 'failed');

-- CreateEnum
CREATE TYPE "OutboxStatus" AS ENUM ('pending', 'publishing', 'published', 'failed', 'dead');

-- CreateEnum
CREATE TYPE "IdempotencyState" AS ENUM ('in_progress', 'completed');

-- CreateEnum
CREATE TYPE "SagaStatus" AS ENUM ('running', 'compensating', 'completed', 'compensated', 'failed', 'aborted');

-- CreateEnum
CREATE TYPE "SagaPhase" AS ENUM ('execute', 'compensate');

-- CreateEnum
CREATE TYPE "SagaStepStatus" AS ENUM ('running', 'succeeded', 'failed', 'skipped');

-- CreateTable
CREATE TABLE "app_user" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'user',
    "quota_bytes" BIGINT NOT NULL DEFAULT 1073741824,
    "used_bytes" BIGINT NOT NULL DEFAULT 0,
    "session_version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "app_user_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "file" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "mime_type" TEXT NOT NULL,
    "detected_type" TEXT,
    "size_bytes" BIGINT NOT NULL,
    "storage_key" TEXT NOT NULL,
    "checksum_sha256" TEXT,
    "width" INTEGER,
    "height" INTEGER,
    "thumbnail_key" TEXT,
    "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "status" "FileStatus" NOT NULL DEFAULT 'active',
    "deleted_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "file_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox_event" (
    "id" UUID NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "aggregate_seq" INTEGER NOT NULL,
    "event_type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "headers" JSONB NOT NULL DEFAULT '{}',
    "status" "OutboxStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL DEFAULT 5,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_until" TIMESTAMPTZ(3),
    "claimed_by" TEXT,
    "last_error" TEXT,
    "last_error_stack" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),
    "consumed_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox_aggregate" (
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "last_seq" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "outbox_aggregate_pkey" PRIMARY KEY ("aggregate_type","aggregate_id")
);

-- CreateTable
CREATE TABLE "inbox_entry" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_entry_pkey" PRIMARY KEY ("consumer","event_id")
);

-- CreateTable
CREATE TABLE "idempotency_key" (
    "id" UUID NOT NULL,
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "state" "IdempotencyState" NOT NULL DEFAULT 'in_progress',
    "result" JSONB,
    "response_status" INTEGER,
    "lease_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "saga_instance" (
    "id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "status" "SagaStatus" NOT NULL DEFAULT 'running',
    "current_step" INTEGER NOT NULL DEFAULT 0,
    "input" JSONB NOT NULL,
    "context" JSONB NOT NULL DEFAULT '{}',
    "last_error" TEXT,
    "correlation_id" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "saga_instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "saga_step_log" (
    "id" UUID NOT NULL,
    "saga_id" UUID NOT NULL,
    "step_index" INTEGER NOT NULL,
    "step_name" TEXT NOT NULL,
    "phase" "SagaPhase" NOT NULL,
    "status" "SagaStepStatus" NOT NULL DEFAULT 'running',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "execution_id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "output" JSONB,
    "error" TEXT,

    CONSTRAINT "saga_step_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "app_user_email_key" ON "app_user"("email");

-- CreateIndex
CREATE INDEX "file_owner_id_status_id_idx" ON "file"("owner_id", "status", "id" DESC);

-- CreateIndex
CREATE INDEX "file_tags_idx" ON "file" USING GIN ("tags");

-- CreateIndex
CREATE INDEX "file_storage_key_idx" ON "file"("storage_key");

-- CreateIndex
CREATE INDEX "outbox_event_due_idx" ON "outbox_event"("next_attempt_at") WHERE (status IN ('pending', 'failed', 'publishing'));

-- CreateIndex
CREATE INDEX "outbox_event_status_created_at_idx" ON "outbox_event"("status", "created_at");

-- CreateIndex
CREATE INDEX "outbox_event_event_type_created_at_idx" ON "outbox_event"("event_type", "created_at");

-- CreateIndex
CREATE INDEX "outbox_event_published_idx" ON "outbox_event"("published_at") WHERE (status = 'published');

-- CreateIndex
CREATE UNIQUE INDEX "outbox_event_aggregate_type_aggregate_id_aggregate_seq_key" ON "outbox_event"("aggregate_type", "aggregate_id", "aggregate_seq");

-- CreateIndex
CREATE INDEX "inbox_entry_processed_at_idx" ON "inbox_entry"("processed_at");

-- CreateIndex
CREATE INDEX "idempotency_key_expires_at_idx" ON "idempotency_key"("expires_at");

-- CreateIndex
CREATE INDEX "idempotency_key_key_idx" ON "idempotency_key"("key");

-- CreateIndex
CREATE UNIQUE INDEX "idempotency_key_scope_key_key" ON "idempotency_key"("scope", "key");

-- CreateIndex
CREATE INDEX "saga_instance_status_updated_at_idx" ON "saga_instance"("status", "updated_at");

-- CreateIndex
CREATE INDEX "saga_instance_type_created_at_idx" ON "saga_instance"("type", "created_at");

-- CreateIndex
CREATE INDEX "saga_instance_correlation_id_idx" ON "saga_instance"("correlation_id");

-- CreateIndex
CREATE UNIQUE INDEX "saga_step_log_saga_id_step_index_phase_key" ON "saga_step_log"("saga_id", "step_index", "phase");

-- AddForeignKey
ALTER TABLE "file" ADD CONSTRAINT "file_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "app_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "saga_step_log" ADD CONSTRAINT "saga_step_log_saga_id_fkey" FOREIGN KEY ("saga_id") REFERENCES "saga_instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;
