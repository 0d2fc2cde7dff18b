import type { Worker } from "bullmq";

/**
 * Jobs this process is running right now, across its BullMQ workers (for the fleet view). Counted
 * from each worker's own events: `active` when it starts a job, `completed`/`failed` when it ends.
 */
export function createInFlightTracker() {
  const running = new Set<string>();
  return {
    track(worker: Pick<Worker, "name" | "on">) {
      const id = (jobId: string | undefined) => `${worker.name}:${jobId ?? "?"}`;
      worker.on("active", (job) => void running.add(id(job.id)));
      worker.on("completed", (job) => void running.delete(id(job.id)));
      worker.on("failed", (job) => void (job && running.delete(id(job.id))));
    },
    count: () => running.size,
  };
}

export type InFlightTracker = ReturnType<typeof createInFlightTracker>;
