import { createIORedisClient, RedisConnection, type ConnectionOptions } from "bullmq";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/**
 * The platform's one way to reach Redis. A deployment is either one Redis (REDIS_URL) or a Redis
 * Cluster (REDIS_CLUSTER_NODES): every client of every process — BullMQ's, the cache's, counters,
 * rate limits, pub/sub, health — is made by createRedisClient / bullmqConnection from a RedisTarget,
 * so switching to a cluster is one variable, never a code path per feature.
 */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisTarget {
  /** One Redis; for a cluster, only its credentials and TLS apply (to every node). */
  url: string;
  /** Seed nodes of a Redis Cluster (any subset of its masters/replicas; the rest is discovered). */
  clusterNodes?: RedisNode[];
}

/** `host:port,host:port` (REDIS_CLUSTER_NODES) → nodes; throws on a malformed entry. */
export function parseClusterNodes(text: string): RedisNode[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(part);
      if (!match) throw new Error(`"${part}" is not host:port`);
      return { host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
    });
}

export function redisTargetFrom(env: { REDIS_URL?: string; REDIS_CLUSTER_NODES?: string }): RedisTarget {
  const clusterNodes = env.REDIS_CLUSTER_NODES ? parseClusterNodes(env.REDIS_CLUSTER_NODES) : undefined;
  return { url: env.REDIS_URL || "redis://127.0.0.1:6379", ...(clusterNodes?.length ? { clusterNodes } : {}) };
}

const asTarget = (target: RedisTarget | string): RedisTarget => (typeof target === "string" ? { url: target } : target);

export const isCluster = (client: RedisClient): client is Cluster => (client as Cluster).isCluster === true;

/**
 * BullMQ keeps every key of a queue in one slot only if the prefix carries a hash tag: on a cluster
 * the app prefix becomes `{prefix}`, and each queue's own prefix `{prefix:queue}` (contracts/queues.ts
 * queueKeyPrefix), so each queue has its slot and the queues spread over the masters. One Redis
 * keeps the plain prefix, so existing keys keep their names.
 */
export function queuePrefix(appPrefix: string, on: RedisTarget | string | RedisClient): string {
  const clustered = typeof on === "object" && "status" in on ? isCluster(on) : Boolean(asTarget(on as RedisTarget | string).clusterNodes);
  if (!clustered || /^\{[^}]+\}$/.test(appPrefix)) return appPrefix;
  return `{${appPrefix}}`;
}

/** Connection options for one Redis from its URL (credentials, db, TLS), plus `extra`. */
export function redisConnectionOptions(url: string, extra: RedisOptions = {}): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined,
    tls: parsed.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: null,
    ...extra,
  };
}

/**
 * THE factory. `options` are per-connection settings (timeouts, retries, offline queue); on a
 * cluster they apply to every node connection, and the ones that the Cluster client handles itself
 * (offline queue, reconnect strategy) are lifted to the cluster level.
 */
export function createRedisClient(target: RedisTarget | string, options: RedisOptions = {}): RedisClient {
  const t = asTarget(target);
  const single = redisConnectionOptions(t.url, options);
  if (!t.clusterNodes) return new Redis(single);
  return new Cluster(t.clusterNodes, clusterOptions(single));
}

/** Cluster options from one node's options: address and db dropped, client-level settings lifted. */
function clusterOptions(single: RedisOptions): ClusterOptions {
  // A cluster has no databases: `db` must stay unset on its node connections.
  const { host: _h, port: _p, db: _db, retryStrategy, enableOfflineQueue, lazyConnect, ...perNode } = single;
  return {
    redisOptions: perNode,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableReadyCheck: true,
    lazyConnect: lazyConnect ?? false,
    // Whole-cluster reconnects follow the caller's strategy (fail-fast clients back off to 1 s).
    clusterRetryStrategy: retryStrategy ?? ((times: number) => Math.min(100 * times, 2000)),
    // During a failover the slot's new master answers after a few hundred ms: retry MOVED/TRYAGAIN
    // and CLUSTERDOWN instead of failing the command at once.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    slotsRefreshTimeout: 2000,
  };
}

/** Marker on BullMQ connection options: the factory below turns them into a Cluster client. */
const CLUSTER_NODES = "metastoreClusterNodes";
let bullmqFactoryInstalled = false;

/**
 * BullMQ creates (and closes) its own connections from options. For a cluster it is given options
 * carrying the seed nodes, and BullMQ's client factory hook builds an ioredis Cluster from them;
 * plain options still get BullMQ's default client. So every Queue/Worker/QueueEvents owns its
 * connections on both kinds of deployment, and nothing the app passes needs closing.
 */
function installBullmqClusterFactory() {
  if (bullmqFactoryInstalled) return;
  bullmqFactoryInstalled = true;
  const previous = RedisConnection.clientFactory;
  RedisConnection.clientFactory = (opts) => {
    const { [CLUSTER_NODES]: nodes, url, ...rest } = opts as RedisOptions & { [CLUSTER_NODES]?: RedisNode[]; url?: string };
    // BullMQ's blocking connections need maxRetriesPerRequest: null, on every node.
    if (nodes) return createIORedisClient(new Cluster(nodes, clusterOptions({ ...rest, maxRetriesPerRequest: null })));
    if (previous) return previous(opts);
    return createIORedisClient(url ? new Redis(url, rest) : new Redis(rest));
  };
}

/** BullMQ's own connection options (it creates and closes the connections itself). */
export function bullmqConnection(target: RedisTarget | string): ConnectionOptions {
  const t = asTarget(target);
  const { retryStrategy: _r, reconnectOnError: _e, ...options } = redisConnectionOptions(t.url);
  if (!t.clusterNodes) return options as ConnectionOptions;
  installBullmqClusterFactory();
  return { ...options, [CLUSTER_NODES]: t.clusterNodes } as ConnectionOptions;
}

// ── Operations that span nodes. On one Redis each is its plain command; on a cluster a command
// ── may only touch one slot, and SCAN/INFO see one node: these spread the work and merge the answer.

/** The nodes that hold data: the masters of a cluster, or the one Redis. */
export function dataNodes(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes("master") : [client];
}

/** Every key matching `pattern` (SCAN, never KEYS), node by node, in batches. */
export async function* scanKeys(client: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of dataNodes(client)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== "0");
  }
}

/** Keys grouped by hash slot, order kept inside each group (a multi-key command per group). */
export function groupBySlot(keys: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  keys.forEach((key, index) => {
    const slot = calculateSlot(key);
    const group = groups.get(slot);
    if (group) group.push(index);
    else groups.set(slot, [index]);
  });
  return groups;
}

/** UNLINK any keys: one command on one Redis, one per slot (in parallel) on a cluster. */
export async function unlinkKeys(client: RedisClient, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(client)) return client.unlink(...keys);
  const counts = await Promise.all([...groupBySlot(keys).values()].map((idx) => client.unlink(...idx.map((i) => keys[i]!))));
  return counts.reduce((a, b) => a + b, 0);
}

/** MGET any keys, answers in the order asked: one MGET on one Redis, one per slot (in parallel) on a cluster. */
export async function mgetKeys(client: RedisClient, keys: readonly string[]): Promise<Array<string | null>> {
  if (!isCluster(client)) return client.mget(...keys);
  const out = new Array<string | null>(keys.length).fill(null);
  await Promise.all(
    [...groupBySlot(keys).values()].map(async (idx) => {
      const values = await client.mget(...idx.map((i) => keys[i]!));
      idx.forEach((i, j) => (out[i] = values[j] ?? null));
    }),
  );
  return out;
}

/**
 * A hash tag that puts keys a multi-key command (MULTI, Lua, MGET) touches together in one slot:
 * `${prefix}:${group}:{${prefix}:${group}}:...`. Only what must be atomic together shares a slot;
 * everything else spreads over the cluster by its own name.
 */
export function slotGroup(prefix: string, group: string): string {
  return `${prefix}:${group}:{${prefix}:${group}}`;
}
