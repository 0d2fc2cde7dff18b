-- AlterTable
ALTER TABLE "idempotency_key" ADD COLUMN     "claim_token" UUID;
