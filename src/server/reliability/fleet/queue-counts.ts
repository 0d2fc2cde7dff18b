import { withDeadline } from "../cache/deadline";
import type { FleetQueues } from "./queue-control";
import { FLEET_QUEUES, PAUSABLE_QUEUES } from "./queues";

/** BullMQ's own counts per state. BullMQ 6 keeps a paused queue's jobs in `waiting` (flag `paused`). */
export const COUNTED_STATES = ["waiting", "prioritized", "active", "delayed", "failed", "completed"] as const;

export interface QueueState {
  name: string;
  /** As Redis says now (null: Redis did not answer). */
  paused: boolean | null;
  pausable: boolean;
  counts: Record<(typeof COUNTED_STATES)[number], number> | null;
}

/** Every fleet queue's counts and paused flag, each queue within `deadlineMs` (Redis may be away). */
export async function readQueueStates(queues: FleetQueues, deadlineMs = 1000): Promise<{ redis: "ok" | "down"; queues: QueueState[] }> {
  let down = false;
  const states = await Promise.all(
    FLEET_QUEUES.map(async (name): Promise<QueueState> => {
      const q = queues.get(name);
      const pausable = (PAUSABLE_QUEUES as readonly string[]).includes(name);
      try {
        const [counts, paused] = await withDeadline(Promise.all([q.getJobCounts(...COUNTED_STATES), q.isPaused()]), deadlineMs);
        return {
          name,
          paused,
          pausable,
          counts: Object.fromEntries(COUNTED_STATES.map((s) => [s, counts[s] ?? 0])) as QueueState["counts"],
        };
      } catch {
        down = true;
        return { name, paused: null, pausable, counts: null };
      }
    }),
  );
  return { redis: down ? "down" : "ok", queues: states };
}
