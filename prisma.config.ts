import { defineConfig } from "prisma/config";

// Prisma 7 reads the connection URLs from here, not from schema.prisma.
// Run the CLI through `npm run prisma -- …` (scripts/prisma.mjs): it loads `.env` and points the CLI at
// the offline schema engine shim in prisma/engine/ (see prisma/engine/schema-engine.mjs).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations", seed: "tsx prisma/seed.ts" },
  datasource: {
    // The CLI (migrations: advisory lock, long DDL transactions) needs a session: DIRECT_DATABASE_URL
    // when DATABASE_URL is a transaction pooler.
    url: process.env.DIRECT_DATABASE_URL || process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/metastore",
    // Only `prisma migrate diff --from-migrations/--to-migrations` needs this (with the native engine
    // and with the shim alike); `migrate dev` creates and drops a temporary shadow database without it.
    // It must be a database of its own: it is emptied before use.
    shadowDatabaseUrl: process.env.SHADOW_DATABASE_URL || undefined,
  },
});
