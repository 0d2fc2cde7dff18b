/**
 * What a stuck event looks like from both sides, for the failure report: its outbox row (status,
 * attempts, last error, aggregate position) and the state of its BullMQ job (job id = event id),
 * so a failure says whether PostgreSQL or Redis holds the work that no longer moves.
 */
import { Queue } from "bullmq";
import pg from "pg";
import { QueueName } from "~/server/contracts/queues";

export async function describeStuckEvents(databaseUrl: string, redisUrl: string, prefix: string, limit = 20): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const redis = new URL(redisUrl);
  const queue = new Queue(QueueName.outboxEvents, { connection: { host: redis.hostname, port: Number(redis.port), maxRetriesPerRequest: 1 }, prefix });
  queue.on("error", () => {});
  try {
    const { rows } = await client.query<{ id: string; event_type: string; status: string; attempts: number; aggregate_id: string; aggregate_seq: number; published_at: Date | null; last_error: string | null }>(
      `SELECT id, event_type, status, attempts, aggregate_id, aggregate_seq, published_at, last_error FROM outbox_event
       WHERE status <> 'discarded' AND NOT (status = 'published' AND consumed_at IS NOT NULL)
       ORDER BY aggregate_id, aggregate_seq LIMIT $1`,
      [limit],
    );
    return await Promise.all(
      rows.map(async (r) => {
        const job = await queue.getJob(r.id).catch(() => undefined);
        const state = job ? await job.getState().catch((e: Error) => `? ${e.message}`) : "no job";
        const jobInfo = job ? `job ${state}, attemptsMade ${job.attemptsMade}, failedReason ${JSON.stringify(job.failedReason ?? null)}, delay ${job.delay}` : state;
        return `${r.event_type} ${r.id} (file ${r.aggregate_id} #${r.aggregate_seq}) ${r.status} attempts=${r.attempts} published=${r.published_at?.toISOString() ?? "-"} last_error=${JSON.stringify(r.last_error?.slice(0, 120) ?? null)}; ${jobInfo}`;
      }),
    );
  } finally {
    await queue.close();
    await client.end();
  }
}
