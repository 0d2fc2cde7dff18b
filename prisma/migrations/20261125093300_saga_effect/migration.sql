-- CreateTable
CREATE TABLE "saga_effect" (
    "execution_id" TEXT NOT NULL,
    "effect" TEXT NOT NULL,
    "data" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "undone_at" TIMESTAMPTZ(3),

    CONSTRAINT "saga_effect_pkey" PRIMARY KEY ("execution_id","effect")
);
