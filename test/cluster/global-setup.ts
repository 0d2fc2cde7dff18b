/**
 * globalSetup of `npm run test:redis-cluster`: a local Redis Cluster (3 masters, 1 replica each, ports
 * 7100-7105 unless REDIS_CLUSTER_BASE_PORT says otherwise) for the whole run, stopped at the end.
 * The test files get its nodes through `inject("redisClusterNodes")` (see setup-env.ts).
 */
import type { TestProject } from "vitest/node";
import { startRedisCluster } from "~test/support/redis-cluster";

declare module "vitest" {
  export interface ProvidedContext {
    /** REDIS_CLUSTER_NODES of the suite's local cluster. */
    redisClusterNodes: string;
  }
}

export default async function setup(project: TestProject) {
  const basePort = Number(process.env.REDIS_CLUSTER_BASE_PORT ?? 7100);
  const started = Date.now();
  const cluster = await startRedisCluster({ basePort, masters: 3, replicas: 1 });
  console.log(`Redis Cluster up in ${Date.now() - started} ms: ${cluster.nodesSpec}`);
  project.provide("redisClusterNodes", cluster.nodesSpec);
  return async () => {
    await cluster.stop();
  };
}
