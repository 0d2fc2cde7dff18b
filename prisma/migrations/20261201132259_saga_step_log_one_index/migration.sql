-- DropIndex
DROP INDEX "saga_step_log_saga_id_step_index_phase_key";

-- AlterTable
ALTER TABLE "saga_step_log" DROP CONSTRAINT "saga_step_log_pkey",
ADD CONSTRAINT "saga_step_log_pkey" PRIMARY KEY ("saga_id", "step_index", "phase");
