/**
 * Convergence, watched from PostgreSQL alone: nothing pending (every event published and consumed,
 * no saga running or compensating, no idempotency key in progress) and nothing moving (the same
 * snapshot for `quietMs`). PostgreSQL was just restarted: a failed poll is retried, not fatal.
 */
import pg from "pg";

interface Snapshot {
  pendingEvents: number;
  activeSagas: number;
  keysInProgress: number;
  signature: string;
}

async function snapshot(client: pg.Client): Promise<Snapshot> {
  const { rows } = await client.query<{ pending_events: string; active_sagas: string; keys_in_progress: string; signature: string }>(`
    SELECT
      (SELECT count(*) FROM outbox_event WHERE status <> 'discarded' AND NOT (status = 'published' AND consumed_at IS NOT NULL)) AS pending_events,
      (SELECT count(*) FROM saga_instance WHERE status IN ('running', 'compensating')) AS active_sagas,
      (SELECT count(*) FROM idempotency_key WHERE state = 'in_progress') AS keys_in_progress,
      concat_ws('|',
        (SELECT count(*) FROM outbox_event), (SELECT max(consumed_at) FROM outbox_event), (SELECT max(published_at) FROM outbox_event),
        (SELECT max(updated_at) FROM saga_instance), (SELECT max(updated_at) FROM file), (SELECT count(*) FROM inbox_entry)
      ) AS signature`);
  const r = rows[0]!;
  return { pendingEvents: Number(r.pending_events), activeSagas: Number(r.active_sagas), keysInProgress: Number(r.keys_in_progress), signature: r.signature };
}

export interface Convergence {
  converged: boolean;
  /** From `since` to the first moment of the final quiet period. */
  ms: number;
  last: Snapshot | null;
}

export async function waitForConvergence(databaseUrl: string, opts: { since: number; boundMs: number; quietMs: number }): Promise<Convergence> {
  const deadline = opts.since + opts.boundMs + opts.quietMs;
  let last: Snapshot | null = null;
  let quietSince: number | null = null;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      const now = await snapshot(client);
      const idle = now.pendingEvents === 0 && now.activeSagas === 0 && now.keysInProgress === 0;
      if (idle && last?.signature === now.signature) {
        quietSince ??= Date.now();
        if (Date.now() - quietSince >= opts.quietMs) return { converged: true, ms: quietSince - opts.since, last: now };
      } else {
        quietSince = idle ? Date.now() : null;
      }
      last = now;
    } catch {
      quietSince = null;
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { converged: false, ms: Date.now() - opts.since, last };
}
