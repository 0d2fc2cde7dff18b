/**
 * A real local Redis Cluster for tests: `redis-server --cluster-enabled yes` per node on private
 * ports, data in a temp dir, joined with `redis-cli --cluster create … --cluster-yes`. Nothing is
 * persisted; stop() kills every node and removes the dir.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createConnection } from "node:net";
import { Redis } from "ioredis";
import { waitForPing } from "./redis-server";

export type ClusterView = ReturnType<typeof clusterView>;
export type LocalRedisCluster = ClusterView & { stop(): Promise<void> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `masters` masters with `replicas` replicas each, on consecutive ports from `basePort`. */
export async function startRedisCluster(opts: { basePort: number; masters?: number; replicas?: number }): Promise<LocalRedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const ports = Array.from({ length: masters * (1 + replicas) }, (_, i) => opts.basePort + i);
  const dir = mkdtempSync(path.join(os.tmpdir(), "metastore-redis-cluster-"));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGCONT");
        child.kill("SIGKILL");
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", killAll);
  };
  // A node left running by a killed run would make `--cluster create` fail with "not empty": say which.
  const taken = (await Promise.all(ports.map(async (p) => ((await listening(p)) ? p : null)))).filter((p) => p !== null);
  if (taken.length) throw new Error(`ports ${taken.join(", ")} are in use (a Redis Cluster node left by an earlier run?); stop it or set REDIS_CLUSTER_BASE_PORT`);
  // If this process dies without stop(), the nodes must not outlive it.
  const killAll = () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL"));
  process.once("exit", killAll);
  try {
    for (const port of ports) {
      // noeviction, as BullMQ needs; a short node timeout so a failover is decided in about a second.
      const child = spawn(
        "redis-server",
        [
          "--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
          "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "1000",
          "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--loglevel", "warning",
          "--logfile", path.join(dir, `redis-${port}.log`),
        ],
        { stdio: "ignore" },
      );
      children.push(child);
    }
    await Promise.all(ports.map((p) => waitForPing(p, 10_000)));
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicas), "--cluster-yes"],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
  } catch (error) {
    await stop();
    throw error;
  }

  const view = clusterView(ports);
  try {
    await view.waitHealthy(30_000, replicas);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ...view,
    async stop() {
      view.close();
      await stop();
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** RESP arrays of alternating field/value → Map. */
function toMap(flat: unknown): Map<string, unknown> {
  const list = flat as unknown[];
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), list[i + 1]);
  return map;
}

/**
 * Admin view of a running cluster from its ports (the test process of `npm run test:redis-cluster` gets
 * them from REDIS_CLUSTER_NODES): one plain client per node, slot ownership, health.
 */
export function clusterView(ports: number[]) {
  const clients: Redis[] = [];
  const node = (port: number) => {
    const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const admin = new Map<number, Redis>();
  const adminOf = (port: number) => admin.get(port) ?? (admin.set(port, node(port)), admin.get(port)!);

  async function shardOf(slot: number) {
    // CLUSTER SHARDS (Redis 7): each shard's slot ranges and nodes with their role and health.
    for (const port of ports) {
      try {
        const shards = (await adminOf(port).call("CLUSTER", "SHARDS")) as unknown[];
        for (const shard of shards as unknown[][]) {
          const fields = toMap(shard);
          const slots = fields.get("slots") as number[];
          let covers = false;
          for (let i = 0; i < slots.length; i += 2) if (slot >= slots[i]! && slot <= slots[i + 1]!) covers = true;
          if (!covers) continue;
          const nodes = (fields.get("nodes") as unknown[][]).map(toMap);
          const master = nodes.find((n) => n.get("role") === "master" && n.get("health") === "online");
          if (!master) continue;
          return {
            master: Number(master.get("port")),
            replicas: nodes.filter((n) => n.get("role") === "replica" && n.get("health") === "online").map((n) => Number(n.get("port"))),
          };
        }
      } catch {
        // that node is down: ask the next
      }
    }
    throw new Error(`no online master serves slot ${slot}`);
  }

  async function waitHealthy(timeoutMs = 30_000, replicasPerShard = 0) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        ports.map(async (port) => {
          try {
            const info = (await adminOf(port).call("CLUSTER", "INFO")) as string;
            if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return "not-ok";
            // A replica counts once its replication link is up (it could take over its master's slots).
            const role = (await adminOf(port).call("ROLE")) as unknown[];
            if (role[0] === "slave" && role[3] !== "connected") return "not-ok";
            // Every node must also list the replicas in CLUSTER SLOTS (what clients build their node
            // map from): gossip announces them a moment after their link is up.
            const slots = (await adminOf(port).call("CLUSTER", "SLOTS")) as unknown[][];
            return slots.every((range) => range.length - 3 >= replicasPerShard) ? "ok" : "not-ok";
          } catch (error) {
            // A node that refuses connections is down (killed on purpose): the others must agree without it.
            return /ECONNREFUSED/.test(String(error)) ? "dead" : "not-ok";
          }
        }),
      );
      if (states.some((s) => s === "ok") && states.every((s) => s === "ok" || s === "dead")) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy after ${timeoutMs} ms: ${states.join(",")}`);
      await sleep(100);
    }
  }

  const nodesSpec = ports.map((p) => `127.0.0.1:${p}`).join(",");
  return {
    nodesSpec,
    ports,
    node,
    shardOf,
    waitHealthy,
    close: () => {
      for (const c of clients) c.disconnect();
    },
  };
}

export function portsOf(nodesSpec: string): number[] {
  return nodesSpec.split(",").map((n) => Number(n.trim().split(":").pop()));
}
