// setupFiles of `npm run test:redis-cluster`: every test file of the run talks to the suite's Redis
// Cluster (test/support/app.ts and the cache tests read REDIS_CLUSTER_NODES through testRedisTarget()).
import { inject } from "vitest";

process.env.REDIS_CLUSTER_NODES = inject("redisClusterNodes");
