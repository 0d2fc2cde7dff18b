
-- CreateTable
CREATE TABLE "worker_instance" (
    "id" UUID NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "version" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "components" TEXT[],
    "concurrency" JSONB NOT NULL,
    "jobs_in_flight" INTEGER NOT NULL DEFAULT 0,
    "heartbeat_every_ms" INTEGER NOT NULL,
    "last_heartbeat_at" TIMESTAMPTZ(3) NOT NULL,
    "stopped_at" TIMESTAMPTZ(3),

    CONSTRAINT "worker_instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "queue_control" (
    "queue" TEXT NOT NULL,
    "paused" BOOLEAN NOT NULL,
    "changed_by" UUID,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "queue_control_pkey" PRIMARY KEY ("queue")
);

-- CreateIndex
CREATE INDEX "worker_instance_last_heartbeat_at_idx" ON "worker_instance"("last_heartbeat_at");

