import { v7 as uuidv7 } from "uuid";
import type { Db } from "../../platform/db/client";

/** One consumer's run on one delivered event, as the trace page shows it. */
export interface ConsumerRun {
  eventId: string;
  consumer: string;
  /** BullMQ delivery attempt, 1 for the first. */
  attempt: number;
  outcome: "handled" | "duplicate" | "failed";
  startedAt: Date;
  finishedAt: Date;
  error?: string;
}

export interface ConsumerRunRecorder {
  record(run: ConsumerRun): void;
  flush(): Promise<void>;
}

/**
 * Writes consumer runs in batches (one multi-row INSERT per few ms), after the fact and best
 * effort: they are observability, not state. A lost batch (database down, process killed) loses
 * rows of the trace page, never an effect; nothing waits on these writes. A run whose event is
 * already gone (retention) is dropped by the join instead of failing the batch.
 */
export function createConsumerRunRecorder(
  db: Db,
  opts: { maxDelayMs?: number; maxBatch?: number; onError?: (error: unknown) => void } = {},
): ConsumerRunRecorder {
  const maxDelayMs = opts.maxDelayMs ?? 20;
  const maxBatch = opts.maxBatch ?? 500;
  let pending: ConsumerRun[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  const write = async (batch: ConsumerRun[]) => {
    await db.$executeRaw`
      INSERT INTO outbox_consumer_run (id, event_id, consumer, attempt, outcome, started_at, finished_at, error)
      SELECT r.id, r.event_id, r.consumer, r.attempt, r.outcome, r.started_at, r.finished_at, r.error
      FROM unnest(${batch.map(() => uuidv7())}::uuid[], ${batch.map((r) => r.eventId)}::uuid[], ${batch.map((r) => r.consumer)}::text[],
                  ${batch.map((r) => r.attempt)}::int[], ${batch.map((r) => r.outcome)}::text[],
                  ${batch.map((r) => r.startedAt)}::timestamptz[], ${batch.map((r) => r.finishedAt)}::timestamptz[],
                  ${batch.map((r) => r.error?.slice(0, 2000) ?? null)}::text[])
             AS r(id, event_id, consumer, attempt, outcome, started_at, finished_at, error)
      WHERE EXISTS (SELECT 1 FROM outbox_event e WHERE e.id = r.event_id)`;
  };

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = [];
    if (batch.length > 0) writing = writing.then(() => write(batch)).catch((error: unknown) => opts.onError?.(error));
    return writing;
  };

  return {
    record(run) {
      pending.push(run);
      if (pending.length >= maxBatch) void flush();
      else timer ??= setTimeout(() => void flush(), maxDelayMs);
    },
    flush,
  };
}
