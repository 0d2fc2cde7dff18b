-- A status for events an operator gave up on. In its own migration: PostgreSQL cannot use a new
-- enum value in the transaction that adds it, and the next migration's indexes mention it.
-- AlterEnum
ALTER TYPE "OutboxStatus" ADD VALUE 'discarded';
