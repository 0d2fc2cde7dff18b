import { slotGroup, type RedisClient } from "~/server/platform/redis";

/**
 * Counters of what the middleware answered, kept in Redis under the app's prefix:
 *  - a replay must stay a pure read of PostgreSQL: counting it in PG would add a write (and a hot
 *    row every request updates) to the path that is meant to be cheapest;
 *  - Redis is shared by every web process, so the totals are cluster-wide (a prom-client counter
 *    would be per process until scraped and summed);
 *  - losing them (Redis flushed) loses telemetry only; what an operator must be able to trust
 *    (records, their state and stored result) is in PostgreSQL.
 * One hash holds totals since start; one hash per UTC hour (kept 8 days) gives recent windows.
 * Each field exists as `counter` and `counter|procedure`.
 */
export const IDEMPOTENCY_COUNTERS = [
  "requests", // mutations that carried a valid key
  "executed", // ran the procedure (first request, or after a release/recovery)
  "replayed", // answered from a stored result
  "conflicts", // 409: same key still in progress
  "mismatches", // 422: same key, other input
  "malformed", // 400: bad key
  "storedErrors", // deterministic errors stored for replay
  "released", // unexpected failures that released the key
  "recovered", // claims taken over after their lease ran out
] as const;
export type IdempotencyCounter = (typeof IDEMPOTENCY_COUNTERS)[number];

export type IdempotencyCounts = Record<IdempotencyCounter, number>;

const HOURLY_TTL_SECONDS = 8 * 24 * 3600;

/**
 * One request's counters as ONE command: a script that increments each field in the total and the
 * hourly hash and renews the hourly hash's expiry. The same data as a MULTI of HINCRBYs (read()
 * is unchanged), but the client builds, sends and parses one command instead of up to 11 (MULTI,
 * 4 HINCRBY per counter, EXPIRE, EXEC): on the keyed request path that was ~0.3 ms of this
 * process's CPU per request, more than the record's statements cost PostgreSQL. A script runs
 * atomically, as the MULTI did; both keys share one hash tag, so a cluster runs it on one node.
 * KEYS: total hash, hourly hash. ARGV: hourly TTL (s), then the fields to increment by 1.
 */
const RECORD_SCRIPT = `
for i = 2, #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
end
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 0`;

type RecordCommand = (total: string, hourly: string, ttlSeconds: number, ...fields: string[]) => Promise<unknown>;

/** Clients the script is defined on (defineCommand: EVALSHA, loading the script on NOSCRIPT). */
const withRecordScript = new WeakSet<RedisClient>();

function recordCommand(redis: RedisClient): RecordCommand {
  if (!withRecordScript.has(redis)) {
    redis.defineCommand("metastoreIdempotencyRecord", { numberOfKeys: 2, lua: RECORD_SCRIPT });
    withRecordScript.add(redis);
  }
  const command = (redis as unknown as { metastoreIdempotencyRecord: RecordCommand }).metastoreIdempotencyRecord;
  return command.bind(redis);
}

function hourOf(date: Date) {
  return date.toISOString().slice(0, 13).replace(/[-T]/g, ""); // YYYYMMDDHH
}

export function createIdempotencyMetrics(redis: RedisClient, prefix: string, onError: (err: unknown) => void = () => {}) {
  // One hash tag for all of them: a request's counters go out as one script, which a cluster runs
  // only when every key it names is in the same slot.
  const root = slotGroup(prefix, "idempotency:stats");
  const totalKey = `${root}:total`;
  const hourKey = (hour: string) => `${root}:h:${hour}`;
  const increment = recordCommand(redis);

  return {
    /**
     * Count what happened to one request (one round trip for all its counters). Fire and forget:
     * telemetry must never fail or slow a request.
     */
    record(counters: IdempotencyCounter | IdempotencyCounter[], procedure: string): void {
      const fields: string[] = [];
      for (const counter of Array.isArray(counters) ? counters : [counters]) fields.push(counter, `${counter}|${procedure}`);
      increment(totalKey, hourKey(hourOf(new Date())), HOURLY_TTL_SECONDS, ...fields).catch(onError);
    },

    /** Totals since start, or over the last `hours` whole UTC hours (including the current one). */
    async read(opts: { hours?: number } = {}): Promise<{ total: IdempotencyCounts; byProcedure: Record<string, IdempotencyCounts> }> {
      let hashes: Array<Record<string, string>>;
      if (opts.hours === undefined) {
        hashes = [await redis.hgetall(totalKey)];
      } else {
        const now = Date.now();
        const pipeline = redis.pipeline();
        for (let h = 0; h < opts.hours; h++) pipeline.hgetall(hourKey(hourOf(new Date(now - h * 3600_000))));
        hashes = ((await pipeline.exec()) ?? []).map(([err, value]) => {
          if (err) throw err;
          return value as Record<string, string>;
        });
      }
      const total = emptyCounts();
      const byProcedure: Record<string, IdempotencyCounts> = {};
      for (const hash of hashes) {
        for (const [field, value] of Object.entries(hash)) {
          const [counter, procedure] = field.split("|") as [IdempotencyCounter, string | undefined];
          if (!(IDEMPOTENCY_COUNTERS as readonly string[]).includes(counter)) continue;
          if (procedure === undefined) total[counter] += Number(value);
          else (byProcedure[procedure] ??= emptyCounts())[counter] += Number(value);
        }
      }
      return { total, byProcedure };
    },
  };
}

export type IdempotencyMetrics = ReturnType<typeof createIdempotencyMetrics>;

function emptyCounts(): IdempotencyCounts {
  return Object.fromEntries(IDEMPOTENCY_COUNTERS.map((c) => [c, 0])) as IdempotencyCounts;
}

/** Share of keyed requests answered from a stored result (0 when there were none). */
export function hitRate(counts: IdempotencyCounts): number {
  return counts.requests === 0 ? 0 : counts.replayed / counts.requests;
}
