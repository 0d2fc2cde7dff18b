/**
 * Reads of many Redis keys, coalesced: every `get` made in one turn of the event loop is answered
 * by one MGET issued at the end of that turn (setImmediate, so callers woken by the same socket
 * read join the same batch). The saga runner reads one abort mark per step; with concurrent jobs,
 * one MGET per turn replaces one GET round trip per job.
 *
 * Nothing is cached: each caller gets a read that was sent after it asked, never an older answer.
 * All keys of one reader must be in one hash slot on a Redis Cluster (the step queue's keys share
 * the queue's `{…}` tag), since MGET cannot span slots.
 */
export interface GetClient {
  get(key: string): Promise<string | null>;
}

/**
 * MGET where the client has it. BullMQ types its connection as its own client interface, which
 * lists no MGET, though the ioredis client behind it (this app's) forwards it; any other client
 * gets one GET per key, pipelined by the client if it does so.
 */
function multiGet(client: GetClient, keys: string[]): Promise<Array<string | null>> {
  const mget = (client as { mget?: (keys: string[]) => Promise<Array<string | null>> }).mget;
  if (typeof mget === "function") return mget.call(client, keys);
  return Promise.all(keys.map((key) => client.get(key)));
}

export function createBatchedGet(client: () => Promise<GetClient>): (key: string) => Promise<string | null> {
  let pending: Array<{ key: string; resolve: (v: string | null) => void; reject: (e: unknown) => void }> = [];

  async function flush() {
    const batch = pending;
    pending = [];
    try {
      const values = await multiGet(await client(), batch.map((p) => p.key));
      batch.forEach((p, i) => p.resolve(values[i] ?? null));
    } catch (error) {
      // Every caller hears the failure and falls back on its own (the engine asks PostgreSQL).
      for (const p of batch) p.reject(error);
    }
  }

  return (key) =>
    new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(() => void flush());
      pending.push({ key, resolve, reject });
    });
}
