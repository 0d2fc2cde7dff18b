import { infrastructureSuite } from "./vitest.suite";

/**
 * `npm run test:pgbouncer`: the outbox, saga, idempotency and files-router integration tests,
 * unchanged, with every app query going through a local PgBouncer in transaction pooling mode
 * (test/pgbouncer/global-setup.ts), plus the pooler's own checks.
 */
export default infrastructureSuite({
  include: [
    // outbox
    "worker/jobs/outbox-relay.test.ts",
    "worker/jobs/outbox-consumers.test.ts",
    "src/server/api/routers/admin/outbox.test.ts",
    // saga
    "src/server/reliability/saga/saga-engine.test.ts",
    "src/server/features/files/upload-saga.test.ts",
    // idempotency
    "src/server/api/middleware/idempotency.test.ts",
    "src/server/api/middleware/idempotency.pool.test.ts",
    // files router
    "src/server/api/routers/files.test.ts",
    // the pooler's own
    "test/pgbouncer/*.test.ts",
  ],
  globalSetup: "test/pgbouncer/global-setup.ts",
  setupFile: "test/pgbouncer/setup-env.ts",
});
