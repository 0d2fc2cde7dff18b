import { infrastructureSuite } from "./vitest.suite";

/**
 * `npm run test:redis-cluster`: the outbox, saga, idempotency, cache, bulk and live-update
 * integration tests, the outbox relay kill and saga crash tests (child processes on the cluster
 * config) and the real worker process, unchanged, against a local 3-master Redis Cluster
 * (test/cluster/global-setup.ts), plus the cluster's own checks (slots, failover).
 */
export default infrastructureSuite({
  include: [
    // outbox
    "worker/jobs/outbox-relay.test.ts",
    "worker/jobs/outbox-consumers.test.ts",
    "worker/jobs/outbox-consumer-failures.test.ts",
    // a relay SIGKILLed after its claim / after its publish (a child process on the cluster config)
    "worker/jobs/outbox-relay.crash.test.ts",
    // saga
    "src/server/reliability/saga/saga-engine.test.ts",
    "src/server/features/files/upload-saga.test.ts",
    // saga runners SIGKILLed mid-step (child processes on the cluster config)
    "src/server/reliability/saga/saga.crash.test.ts",
    // idempotency
    "src/server/api/middleware/idempotency.test.ts",
    // cache
    "src/server/reliability/cache/query-cache.test.ts",
    "src/server/features/files/cache-events.test.ts",
    "src/server/api/middleware/cache.test.ts",
    // live updates: one poller per topic for the deployment, fanned out through pub/sub; revoked sessions end their stream
    "src/server/api/live/live-fanout.test.ts",
    "src/server/api/routers/admin/live.test.ts",
    // bulk operator actions (a web-side queue and the worker's)
    "src/server/api/routers/admin/bulk.test.ts",
    // the real worker process (composed, BullMQ, heartbeat read by the web) on the cluster
    "test/metrics/metrics-endpoints.test.ts",
    // the cluster's own
    "test/cluster/*.test.ts",
  ],
  globalSetup: "test/cluster/global-setup.ts",
  setupFile: "test/cluster/setup-env.ts",
});
