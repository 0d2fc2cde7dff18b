import { defineConfig } from "vitest/config";
import base from "./vitest.config";

/**
 * `npm run test:cluster`: the outbox, saga, idempotency, cache and bulk integration tests and the real
 * worker process, unchanged,
 * against a local 3-master Redis Cluster (test/cluster/global-setup.ts), plus the failover test.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      // outbox
      "worker/jobs/outbox-relay.test.ts",
      "worker/jobs/outbox-consumers.test.ts",
      "worker/jobs/outbox-consumer-failures.test.ts",
      // saga
      "src/server/reliability/saga/saga-engine.test.ts",
      "src/server/features/files/upload-saga.test.ts",
      // idempotency
      "src/server/api/middleware/idempotency.test.ts",
      // cache
      "src/server/reliability/cache/query-cache.test.ts",
      "src/server/features/files/cache-events.test.ts",
      "src/server/api/middleware/cache.test.ts",
      // bulk operator actions (a web-side queue and the worker's, on the hash-tagged prefix)
      "src/server/api/routers/admin/bulk.test.ts",
      // the real worker process (composed, BullMQ, heartbeat read by the web) on the cluster
      "test/metrics/metrics-endpoints.test.ts",
      // the cluster's own
      "test/cluster/*.test.ts",
    ],
    exclude: ["**/node_modules/**"],
    globalSetup: ["test/global-setup.ts", "test/cluster/global-setup.ts"],
    setupFiles: ["test/cluster/setup-env.ts"],
  },
});
