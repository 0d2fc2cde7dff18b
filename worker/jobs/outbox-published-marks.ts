/**
 * The relay's published marks, deferred. Why: the consumers' consumed mark also turns a `publishing`
 * event `published` (reliability/outbox/consumption.ts), so an event consumed before its relay's
 * mark needs no mark of its own — one row version fewer per event (outbox_event has many indexes and
 * no update of it can be HOT). So a batch is marked only `delayMs` after it was published, and the
 * mark (guarded by `status = 'publishing' AND claimed_by = <relay>`) then touches only the events
 * still unconsumed. The delay must stay well inside the lease: until the mark, the lease is what
 * protects a published-but-unconsumed event (a relay that dies re-publishes it after the lease, a
 * no-op in BullMQ while its job exists, and a fresh job if Redis lost it).
 *
 * Marks run one at a time, in order; due batches are merged into one statement.
 */
export interface DeferredMarksOptions {
  delayMs: number;
  /** Marks these events published; returns how many rows changed. */
  mark(ids: string[]): Promise<number>;
  /** A mark failed: its events are re-published (a no-op) after their lease. */
  onError(error: unknown, ids: string[]): void;
  /** As each mark commits: how many events it was given and how many rows it changed. */
  onMarked(given: number, changed: number): void;
}

/** Ids per statement when many batches come due at once (a flush at close). */
const MAX_IDS_PER_MARK = 5000;

export function createDeferredMarks(opts: DeferredMarksOptions) {
  let waiting: Array<{ ids: string[]; dueAt: number }> = [];
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();
  let running = 0;

  function runMark(ids: string[]) {
    running++;
    chain = chain.then(async () => {
      try {
        for (let i = 0; i < ids.length; i += MAX_IDS_PER_MARK) {
          const part = ids.slice(i, i + MAX_IDS_PER_MARK);
          try {
            opts.onMarked(part.length, await opts.mark(part));
          } catch (error) {
            opts.onError(error, part);
          }
        }
      } finally {
        running--;
      }
    });
    return chain;
  }

  /** Marks every batch due by `now` (all of them when `all`). */
  function takeDue(all: boolean) {
    const now = Date.now();
    const due = all ? waiting : waiting.filter((w) => w.dueAt <= now);
    waiting = all ? [] : waiting.filter((w) => w.dueAt > now);
    if (due.length > 0) void runMark(due.flatMap((w) => w.ids));
    schedule();
  }

  function schedule() {
    if (timer || waiting.length === 0) return;
    // Batches come in publishing order with the same delay: the first one is the earliest due.
    timer = setTimeout(() => {
      timer = null;
      takeDue(false);
    }, Math.max(0, waiting[0]!.dueAt - Date.now()));
    // A process that exits without closing the relay loses only marks: the lease covers them.
    timer.unref();
  }

  return {
    /** Marks these published events after the delay (at once with a delay of 0). */
    add(ids: string[]) {
      if (ids.length === 0) return;
      if (opts.delayMs <= 0) {
        void runMark(ids);
        return;
      }
      waiting.push({ ids, dueAt: Date.now() + opts.delayMs });
      schedule();
    },
    /** Marks still running (not counting deferred ones): the relay's backpressure reads it. */
    get running() {
      return running;
    },
    /** Waits for the marks that are running now. */
    settled: () => chain,
    /** Marks everything deferred now, and waits for all marks (the relay is closing). */
    async flush() {
      if (timer) clearTimeout(timer);
      timer = null;
      takeDue(true);
      await chain;
    },
  };
}
