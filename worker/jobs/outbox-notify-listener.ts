import pg from "pg";
import type { Logger } from "~/server/platform/logger";

export const OUTBOX_CHANNEL = "outbox_event";

/**
 * A dedicated PostgreSQL connection LISTENing on the outbox channel (a pooled connection cannot
 * hold a LISTEN). If it drops it reconnects with backoff; meanwhile the relay's poll covers for it,
 * so a lost notification costs at most one poll interval.
 */
export function listenForOutboxEvents(opts: { databaseUrl: string; logger: Logger; onNotify: () => void }) {
  let client: pg.Client | null = null;
  let stopped = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: opts.databaseUrl, application_name: "metastore-outbox-listener" });
    c.on("notification", () => opts.onNotify());
    c.on("error", (err) => {
      opts.logger.warn({ err: err.message }, "outbox LISTEN connection failed; relying on polling until it is back");
      scheduleReconnect(c);
    });
    c.on("end", () => scheduleReconnect(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
      client = c;
      failures = 0;
      // Anything committed while we were not listening is picked up by this wake-up.
      opts.onNotify();
    } catch (err) {
      opts.logger.warn({ err: (err as Error).message }, "could not LISTEN for outbox events; polling meanwhile");
      scheduleReconnect(c);
    }
  };

  // A dropped connection reports itself more than once ('error', then 'end'), possibly after its
  // reconnect already ran: only its first report may schedule one, or a second live LISTEN leaks.
  const given = new WeakSet<pg.Client>();
  const scheduleReconnect = (c: pg.Client) => {
    if (given.has(c)) return;
    given.add(c);
    if (client === c) client = null;
    c.removeAllListeners("notification");
    c.end().catch(() => {});
    if (stopped || retryTimer) return;
    failures++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, Math.min(30_000, 250 * 2 ** Math.min(failures, 7)));
  };

  const ready = connect();
  return {
    ready,
    get connected() {
      return client !== null;
    },
    async close() {
      stopped = true;
      clearTimeout(retryTimer);
      const c = client;
      client = null;
      if (c) {
        c.removeAllListeners();
        c.on("error", () => {});
        await c.end().catch(() => {});
      }
    },
  };
}
