/**
 * A micro-batcher: what concurrent callers hand in within a few milliseconds is written with ONE
 * call (one statement or one transaction) instead of one call each. Each caller still gets its own
 * promise, settled when the write that carried its item is done, so a caller never goes on before its
 * item is durable.
 *
 * A batch is written when `maxBatch` items are waiting, or `maxDelayMs` after its first item came in.
 * If the shared write fails, every item of the batch fails with its error, unless `retryEach` is
 * given: then each item is written again on its own, so one bad item fails only its own caller.
 */
export interface MicroBatcherOptions<I, O> {
  /** Writes a batch; returns one result per item, in the items' order. */
  write(items: I[]): Promise<O[]>;
  /** Writes one item alone, after the shared write of its batch failed. */
  retryEach?(item: I): Promise<O>;
  maxBatch: number;
  maxDelayMs: number;
}

export interface MicroBatcher<I, O> {
  /** Hands in one item; settles once the write that carries it is done. */
  add(item: I): Promise<O>;
  /** Writes whatever is waiting now, and waits for that write. */
  flush(): Promise<void>;
}

interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

export function createMicroBatcher<I, O>(opts: MicroBatcherOptions<I, O>): MicroBatcher<I, O> {
  let pending: Array<Waiting<I, O>> = [];
  let timer: NodeJS.Timeout | null = null;

  async function writeBatch(batch: Array<Waiting<I, O>>) {
    try {
      const results = await opts.write(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      const { retryEach } = opts;
      if (!retryEach || batch.length === 1) {
        for (const w of batch) w.reject(error);
        return;
      }
      for (const w of batch) await retryEach(w.item).then(w.resolve, w.reject);
    }
  }

  async function flush() {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = [];
    if (batch.length > 0) await writeBatch(batch);
  }

  return {
    add(item) {
      return new Promise<O>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (pending.length >= opts.maxBatch) void flush();
        else timer ??= setTimeout(() => void flush(), opts.maxDelayMs);
      });
    },
    flush,
  };
}
