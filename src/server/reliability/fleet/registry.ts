import type { Db } from "../../platform/db/client";

/** A beat this many intervals late means the process is gone (killed, frozen, or cut off from PostgreSQL). */
export const MISSED_BEATS_BEFORE_GONE = 3;
/** Rows of processes gone (or stopped) for this long are deleted by the next beat of any worker. */
export const PRUNE_GONE_AFTER_MS = 60 * 60_000;

/** What a worker process says about itself on every beat. */
export interface WorkerInstanceReport {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  components: string[];
  concurrency: Record<string, number>;
  jobsInFlight: number;
  heartbeatEveryMs: number;
}

export type WorkerStatus = "live" | "gone" | "stopped";

/**
 * One beat: insert or refresh this process's row. Written with PostgreSQL's clock (now()), the same
 * clock `listWorkers` compares against, so skewed hosts do not look gone or alive by mistake.
 */
export async function recordBeat(db: Db, w: WorkerInstanceReport): Promise<void> {
  await db.$executeRaw`
    INSERT INTO worker_instance (id, host, pid, version, started_at, components, concurrency, jobs_in_flight, heartbeat_every_ms, last_heartbeat_at)
    VALUES (${w.id}::uuid, ${w.host}, ${w.pid}, ${w.version}, ${w.startedAt}, ${w.components}::text[], ${JSON.stringify(w.concurrency)}::jsonb, ${w.jobsInFlight}, ${w.heartbeatEveryMs}, now())
    ON CONFLICT (id) DO UPDATE SET components = EXCLUDED.components, concurrency = EXCLUDED.concurrency,
      jobs_in_flight = EXCLUDED.jobs_in_flight, heartbeat_every_ms = EXCLUDED.heartbeat_every_ms,
      last_heartbeat_at = now(), stopped_at = NULL`;
}

/** A clean shutdown says so at once (instead of being noticed as gone after missed beats). */
export async function recordStopped(db: Db, id: string): Promise<void> {
  await db.$executeRaw`UPDATE worker_instance SET stopped_at = now(), jobs_in_flight = 0 WHERE id = ${id}::uuid`;
}

/** Delete rows whose last beat is older than `olderThanMs` (gone or stopped long ago). */
export async function pruneGone(db: Db, olderThanMs = PRUNE_GONE_AFTER_MS): Promise<number> {
  return db.$executeRaw`DELETE FROM worker_instance WHERE last_heartbeat_at < now() - make_interval(secs => ${olderThanMs / 1000})`;
}

export interface WorkerInstanceRow extends WorkerInstanceReport {
  lastHeartbeatAt: Date;
  stoppedAt: Date | null;
  /** Milliseconds since the last beat, by PostgreSQL's clock. */
  sinceLastBeatMs: number;
  status: WorkerStatus;
}

/** Every registered process, live ones first, with its status derived from its own beat interval. */
export async function listWorkers(db: Db): Promise<WorkerInstanceRow[]> {
  const rows = await db.$queryRaw<
    Array<{
      id: string;
      host: string;
      pid: number;
      version: string;
      started_at: Date;
      components: string[];
      concurrency: Record<string, number>;
      jobs_in_flight: number;
      heartbeat_every_ms: number;
      last_heartbeat_at: Date;
      stopped_at: Date | null;
      since_ms: number;
    }>
  >`SELECT *, (extract(epoch FROM now() - last_heartbeat_at) * 1000)::float8 AS since_ms FROM worker_instance ORDER BY started_at DESC LIMIT 500`;
  const status = (r: (typeof rows)[number]): WorkerStatus =>
    r.stopped_at ? "stopped" : r.since_ms > MISSED_BEATS_BEFORE_GONE * r.heartbeat_every_ms ? "gone" : "live";
  const order: Record<WorkerStatus, number> = { live: 0, stopped: 1, gone: 2 };
  return rows
    .map((r) => ({
      id: r.id,
      host: r.host,
      pid: r.pid,
      version: r.version,
      startedAt: r.started_at,
      components: r.components,
      concurrency: r.concurrency,
      jobsInFlight: r.jobs_in_flight,
      heartbeatEveryMs: r.heartbeat_every_ms,
      lastHeartbeatAt: r.last_heartbeat_at,
      stoppedAt: r.stopped_at,
      sinceLastBeatMs: Math.max(0, Math.round(r.since_ms)),
      status: status(r),
    }))
    .sort((a, b) => order[a.status] - order[b.status]);
}
