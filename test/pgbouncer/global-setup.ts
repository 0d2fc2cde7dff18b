/**
 * globalSetup of `npm run test:pgbouncer`: a local PgBouncer in transaction pooling mode (port 6500
 * unless PGBOUNCER_PORT says otherwise) in front of the test PostgreSQL for the whole run. Test
 * databases are still created on the server directly; the apps the tests build query them through
 * the pooler (test/support/database.ts `pooledUrl`, see setup-env.ts).
 */
import type { TestProject } from "vitest/node";
import { startPgBouncer } from "../support/pgbouncer";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL through the pooler (database "postgres"); test databases swap the name. */
    pgbouncerUrl: string;
    pgbouncerAdminUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const server = new URL(process.env.TEST_DATABASE_ADMIN_URL || "postgresql://postgres@127.0.0.1:5432/postgres");
  const pooler = await startPgBouncer({
    port: Number(process.env.PGBOUNCER_PORT ?? 6500),
    serverHost: server.hostname,
    serverPort: Number(server.port || 5432),
    user: decodeURIComponent(server.username || "postgres"),
  });
  console.log(`PgBouncer (pool_mode=transaction) on 127.0.0.1:${pooler.port}`);
  project.provide("pgbouncerUrl", pooler.urlFor("postgres"));
  project.provide("pgbouncerAdminUrl", pooler.adminUrl);
  return () => pooler.stop();
}
