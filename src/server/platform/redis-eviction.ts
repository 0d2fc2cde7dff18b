import { isCluster, type RedisClient } from "~/server/platform/redis";

/**
 * BullMQ needs Redis to keep every key it writes: with any `maxmemory-policy` but `noeviction`,
 * Redis under memory pressure silently deletes keys, and a queued job, a lock or a job's state
 * can vanish (https://docs.bullmq.io/guide/going-to-production#max-memory-policy). MetaStore
 * converges without them (PostgreSQL is the source of truth), but only after the sweepers' and
 * reconcilers' deadlines: an evicting Redis turns memory pressure into a stream of such delays.
 * So it is said at start (worker log) and in health, not refused: the system keeps working.
 */
export const REQUIRED_EVICTION_POLICY = "noeviction";

export interface EvictionPolicyCheck {
  /** The server's maxmemory-policy, or null when Redis did not say. */
  policy: string | null;
  ok: boolean;
  /** For operators, when not ok: what is wrong and what to set. */
  warning?: string;
}

/**
 * Read the policy from `INFO memory` (CONFIG GET is often disabled or renamed on managed Redis).
 * INFO answers for one server only: on a cluster every node is asked (replicas too: a replica
 * becomes the master of its slots at the next failover), and one evicting node is enough to warn.
 */
export async function checkEvictionPolicy(redis: RedisClient): Promise<EvictionPolicyCheck> {
  const nodes = isCluster(redis) ? redis.nodes("all") : [redis];
  if (nodes.length === 0) throw new Error("no Redis Cluster node is connected");
  const infos = await Promise.all(nodes.map((node) => node.info("memory")));
  const policies = infos.map((info) => /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null);
  const wrong = policies.find((p) => p !== REQUIRED_EVICTION_POLICY);
  const policy = wrong === undefined ? REQUIRED_EVICTION_POLICY : wrong;
  if (wrong === undefined) return { policy, ok: true };
  const where = nodes.length > 1 ? ` on ${policies.filter((p) => p !== REQUIRED_EVICTION_POLICY).length} of ${nodes.length} cluster nodes` : "";
  return {
    policy,
    ok: false,
    warning:
      policy === null
        ? `Redis did not report its maxmemory-policy${where}; BullMQ needs ${REQUIRED_EVICTION_POLICY} (check it with: redis-cli CONFIG GET maxmemory-policy)`
        : `Redis maxmemory-policy is ${policy}${where}: under memory pressure Redis may evict queued jobs and locks. BullMQ needs ${REQUIRED_EVICTION_POLICY} (redis.conf: maxmemory-policy ${REQUIRED_EVICTION_POLICY}, or CONFIG SET maxmemory-policy ${REQUIRED_EVICTION_POLICY})`,
  };
}
