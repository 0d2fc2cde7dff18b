import { Queue, type ConnectionOptions } from "bullmq";
import type { Db } from "../../platform/db/client";
import type { Tx } from "../../platform/db/transaction";
import { queueKeyPrefix, type QueueName } from "../../contracts/queues";
import { PAUSABLE_QUEUES, type PausableQueue } from "./queues";

/**
 * Pausing a queue, with PostgreSQL as the record of what the operator wants. BullMQ keeps "paused"
 * only in Redis, so a Redis restarted empty (or FLUSHALL) would silently resume a queue an operator
 * paused. The operator's action writes the desired state here first, then pauses in Redis at once;
 * every worker's fleet beat (a plain timer) re-applies the desired state to Redis, so after a wipe
 * the queue is paused again within one beat, before the relay has re-sent much into it.
 */

export type FleetQueues = ReturnType<typeof createFleetQueues>;

/** BullMQ Queue handles of the fleet's queues, made once per connection and prefix. */
export function createFleetQueues(connection: ConnectionOptions, prefix: string) {
  const queues = new Map<string, Queue>();
  const get = (name: QueueName) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix: queueKeyPrefix(prefix, name) });
      q.on("error", () => {}); // Redis away: callers see the failed command (or its deadline)
      queues.set(name, q);
    }
    return q;
  };
  return {
    get,
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close().catch(() => {})));
      queues.clear();
    },
  };
}

const shared = new WeakMap<object, Map<string, FleetQueues>>();

/** The fleet queues of a web process: one set per Redis client and prefix (like the saga step queue). */
export function fleetQueuesFor(connection: ConnectionOptions & object, prefix: string): FleetQueues {
  let byPrefix = shared.get(connection);
  if (!byPrefix) shared.set(connection, (byPrefix = new Map()));
  let queues = byPrefix.get(prefix);
  if (!queues) byPrefix.set(prefix, (queues = createFleetQueues(connection, prefix)));
  return queues;
}

/** Record what the operator wants (the source of truth): one row per queue ever paused. */
export async function setDesiredPause(db: Db | Tx, queue: PausableQueue, paused: boolean, changedBy: string | null): Promise<void> {
  await db.queueControl.upsert({
    where: { queue },
    create: { queue, paused, changedBy },
    update: { paused, changedBy, changedAt: new Date() },
  });
}

export async function desiredPauses(db: Db): Promise<Map<string, { paused: boolean; changedBy: string | null; changedAt: Date }>> {
  const rows = await db.queueControl.findMany();
  return new Map(rows.map((r) => [r.queue, { paused: r.paused, changedBy: r.changedBy, changedAt: r.changedAt }]));
}

/** Make Redis agree with one desired state; true if it had to change something. */
export async function applyPause(queues: FleetQueues, queue: PausableQueue, paused: boolean): Promise<boolean> {
  const q = queues.get(queue);
  if ((await q.isPaused()) === paused) return false;
  if (paused) await q.pause();
  else await q.resume();
  return true;
}

/**
 * Re-apply every recorded desired state to Redis (each worker's fleet beat). Queues never touched by
 * an operator have no row and are left alone. Returns the queues it changed, for a log line.
 */
export async function reapplyDesiredPauses(db: Db, queues: FleetQueues): Promise<Array<{ queue: string; paused: boolean }>> {
  const desired = await desiredPauses(db);
  const changed: Array<{ queue: string; paused: boolean }> = [];
  for (const queue of PAUSABLE_QUEUES) {
    const want = desired.get(queue);
    if (want && (await applyPause(queues, queue, want.paused))) changed.push({ queue, paused: want.paused });
  }
  return changed;
}
