/**
 * npm run bench:idempotency — what an Idempotency-Key costs and what a replay saves.
 *
 * In one run, against a dedicated PostgreSQL database (created and migrated here) and Redis, through
 * the real tRPC fetch handler in-process (session cookie, Idempotency-Key header, superjson):
 *   - no key       the mutation executes (the baseline)
 *   - fresh key    a new key per request: claim + the mutation + the record in its transaction
 *   - replayed     the same key and input again: answered from the stored record
 * for two mutations: files.rename (a few rows) and files.upload (4 KiB: blob write, quota, event).
 * Latency is server-side: from handing the Request to the handler to the response body in hand.
 * Latency (p50/p99) is measured one request at a time (no queueing behind other requests);
 * throughput again with BENCH_CONCURRENCY concurrent callers (each renames its own file, so they
 * do not queue on one row lock): requests / wall time. Scenarios run interleaved in rounds.
 * Prints a markdown table and the targets of issue 4.
 *
 * Env: BENCH_REQUESTS (default 2000), BENCH_CONCURRENCY (default 4), BENCH_WARMUP (default 300);
 * BENCH_QUICK=1 makes the defaults 300 requests and 50 warm-up (as `BENCH_QUICK=1 npm run bench`).
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createTrpcHttpHandler } from "../src/server/api/http-handler";
import { createSessionCache } from "../src/server/auth/session-cache";
import { createSessionManager, SESSION_COOKIE } from "../src/server/auth/session";
import { createSignInThrottle } from "../src/server/auth/sign-in-throttle";
import { createDb } from "../src/server/platform/db/client";
import { redisConnectionOptions } from "../src/server/platform/redis";
import type { AppServices } from "../src/server/services";
import { withDomainServices } from "../src/server/composition";
import { LocalDiskStorage } from "../src/server/platform/storage/local-disk-storage";
import { createRequestMetrics } from "../src/server/metrics/request-metrics";
import { commandDelta, commandStats, countsTable, goal, installPgCounter, installRedisCounter, pgDelta, type UnitCounts } from "./counts";
import pg from "pg";
import { benchDatabase, benchRedis, percentile } from "./support";
import { cpuTable, ownCpuMs, pgBackendCpu, pgCpuBetween, redisCpuMs, type CpuMs } from "./support/cpu-per-unit";
import { clearPrefix } from "./support/redis-prefix";

const pgCounter = installPgCounter();
const redisCounter = installRedisCounter();

/** BENCH_DB_NAME: another database name, so that two runs on one machine do not drop each other's. */
const DB_NAME = process.env.BENCH_DB_NAME ?? "metastore_bench_idempotency";
const database = benchDatabase(DB_NAME);
const DATABASE_URL = database.url;
let REDIS_URL = "";
const PREFIX = `bench-idem-${randomUUID().slice(0, 8)}`;
/** BENCH_QUICK=1: the sizes `npm run bench` uses for a quick run (300 requests, 50 warm-up). */
const QUICK = process.env.BENCH_QUICK === "1";
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? (QUICK ? 300 : 2000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? (QUICK ? 50 : 300));
const UPLOAD_BYTES = 4096;

const log = (msg: string) => process.stderr.write(`[bench:idempotency] ${msg}\n`);




/** PostgreSQL round trips a request waited on one after the other (statements less those sent alongside another). */
const waitedOn = (c: UnitCounts) => (c.pg!.statements - (c.pg!.overlapped ?? 0)) / c.units;

interface Row {
  mutation: string;
  scenario: string;
  p50: number;
  p99: number;
  mean: number;
  rps: number;
  rpsLoaded: number;
  p50Loaded: number;
}

async function main() {
  const redisServer = await benchRedis();
  REDIS_URL = redisServer.url;
  await database.recreate();
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-bench-idem-"));
  // A direct connection, as the app's DATABASE_URL without DIRECT_DATABASE_URL: the claim is prepared.
  const db = createDb(DATABASE_URL, { max: 10, sessionCapable: process.env.BENCH_UNPREPARED !== "1" });
  const redis = new Redis(redisConnectionOptions(REDIS_URL, { maxRetriesPerRequest: 1 }));
  // As the app composes it (src/server/composition.ts): sessions cached while the invalidation channel is live.
  const sessionCache = createSessionCache({ subscriber: new Redis(redisConnectionOptions(REDIS_URL)), publisher: redis, channel: `${PREFIX}:sessions:changed`, logger: pino({ level: "warn" }) });
  await sessionCache.whenReady();
  const sessions = createSessionManager(db, { secret: "bench-only-secret-bench-only-secret-0123", ttlSeconds: 3600, secureCookie: false }, sessionCache);
  const services: AppServices = withDomainServices({
    db,
    redis,
    storage: new LocalDiskStorage(storageDir),
    sessions,
    signInThrottle: createSignInThrottle({ redis, prefix: PREFIX, logger: pino({ level: "warn" }) }),
    logger: pino({ level: "warn" }),
    requestMetrics: createRequestMetrics(), // requests are timed, as in the app
    config: { maxUploadBytes: 1024 * 1024, queuePrefix: PREFIX },
  });
  const handler = createTrpcHttpHandler(services);

  try {
    const user = await db.user.create({
      data: { email: "bench@metastore.local", name: "bench", passwordHash: "not-used", quotaBytes: 1n << 40n },
      select: { id: true, sessionVersion: true },
    });
    const cookie = `${SESSION_COOKIE}=${await sessions.seal(user)}`;
    const payload = "x".repeat(UPLOAD_BYTES);

    const send = async (procedure: string, body: BodyInit, key: string | null, json: boolean) => {
      const headers: Record<string, string> = { cookie };
      if (json) headers["content-type"] = "application/json";
      if (key !== null) headers["idempotency-key"] = key;
      const res = await handler(new Request(`http://localhost/api/trpc/${procedure}`, { method: "POST", body, headers }));
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${procedure} answered ${res.status}: ${text.slice(0, 300)}`);
      return { text, replayed: res.headers.get("idempotent-replayed") === "true" };
    };
    const uploadForm = (name: string) => {
      const fd = new FormData();
      fd.append("file", new File([payload], name, { type: "text/plain" }));
      return fd;
    };
    const upload = (key: string | null, name = "bench.txt") => send("files.upload", uploadForm(name), key, false);
    const rename = (key: string | null, id: string, name: string) => send("files.rename", JSON.stringify({ json: { id, name } }), key, true);

    // One file per concurrent caller for the renames.
    const fileIds: string[] = [];
    for (let w = 0; w < CONCURRENCY; w++) {
      fileIds.push((JSON.parse((await upload(null, `rename-${w}.txt`)).text) as { result: { data: { json: { id: string } } } }).result.data.json.id);
    }
    // Keys the replay scenarios repeat (each executed once here, outside the measurement).
    const replayKeys = fileIds.map(() => randomUUID());
    for (let w = 0; w < CONCURRENCY; w++) {
      await rename(replayKeys[w]!, fileIds[w]!, "replayed.txt");
      await upload(replayKeys[w]!);
    }

    type Call = (worker: number, i: number) => Promise<{ replayed: boolean }>;
    const scenarios: Array<{ mutation: string; scenario: string; call: Call; expectReplay: boolean }> = [
      { mutation: "files.rename", scenario: "no key", call: (w, i) => rename(null, fileIds[w]!, `n-${i}.txt`), expectReplay: false },
      { mutation: "files.rename", scenario: "fresh key", call: (w, i) => rename(randomUUID(), fileIds[w]!, `k-${i}.txt`), expectReplay: false },
      { mutation: "files.rename", scenario: "replayed", call: (w) => rename(replayKeys[w]!, fileIds[w]!, "replayed.txt"), expectReplay: true },
      { mutation: "files.upload (4 KiB)", scenario: "no key", call: () => upload(null), expectReplay: false },
      { mutation: "files.upload (4 KiB)", scenario: "fresh key", call: () => upload(randomUUID()), expectReplay: false },
      { mutation: "files.upload (4 KiB)", scenario: "replayed", call: (w) => upload(replayKeys[w]!), expectReplay: true },
    ];

    // Scenarios run interleaved in rounds (A B C … A B C …) so that a noisy neighbour on this shared
    // machine slows all of them alike instead of whichever happened to run at that moment.
    async function run(call: Call, total: number, expectReplay: boolean, latencies: number[], concurrency = 1) {
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async (_, worker) => {
          while (next < total) {
            const i = next++;
            const t0 = performance.now();
            const { replayed } = await call(worker, i);
            latencies.push(performance.now() - t0);
            if (replayed !== expectReplay) throw new Error(`request ${i}: replayed=${replayed}, expected ${expectReplay}`);
          }
        }),
      );
      return performance.now() - started;
    }

    log(`warm-up: ${WARMUP} requests per scenario`);
    for (const s of scenarios) await run(s.call, WARMUP, s.expectReplay, []);
    const ROUNDS = 10;
    const perRound = Math.ceil(REQUESTS / ROUNDS);
    /** Latency at concurrency 1 (no queueing behind other requests), throughput at CONCURRENCY. */
    // CPU each scenario burnt (this process, the private redis-server, the bench database's
    // backends): on this shared machine the wall clock swings 2–3×, the CPU per request much less.
    const probe = new pg.Client({ connectionString: DATABASE_URL, application_name: "bench-probe" });
    await probe.connect();
    const cpuAdmin = new Redis(REDIS_URL);
    async function measure(concurrency: number, perRound: number) {
      const samples = scenarios.map(() => ({ latencies: [] as number[], wall: 0, cpu: { node: 0, redis: 0, pg: 0 } as CpuMs }));
      log(`${ROUNDS} rounds of ${perRound} requests per scenario, concurrency ${concurrency}`);
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, s] of scenarios.entries()) {
          const [pgBefore, redisBefore] = [await pgBackendCpu(probe, DB_NAME, ["bench-probe"]), await redisCpuMs(cpuAdmin)];
          const nodeBefore = ownCpuMs();
          samples[i]!.wall += await run(s.call, perRound, s.expectReplay, samples[i]!.latencies, concurrency);
          const node = ownCpuMs() - nodeBefore;
          const [pgAfter, redisAfter] = [await pgBackendCpu(probe, DB_NAME, ["bench-probe"]), await redisCpuMs(cpuAdmin)];
          samples[i]!.cpu.node += node;
          samples[i]!.cpu.redis += redisAfter - redisBefore;
          samples[i]!.cpu.pg += pgCpuBetween(pgBefore, pgAfter);
        }
      }
      return samples.map(({ latencies, wall, cpu }) => {
        latencies.sort((a, b) => a - b);
        return {
          cpu,
          units: latencies.length,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          mean: latencies.reduce((sum, v) => sum + v, 0) / latencies.length,
          rps: (latencies.length / wall) * 1000,
        };
      });
    }
    // What each scenario costs, counted one request at a time (nothing else runs meanwhile).
    const COUNTED = 50;
    const counts: UnitCounts[] = [];
    const medianCommits = new Map<string, number>();
    const admin = new Redis(REDIS_URL);
    for (const s of scenarios) {
      const pgBefore = pgCounter.snapshot();
      const sBefore = await commandStats(admin);
      const rBefore = redisCounter.snapshot();
      // One request at a time, each one's own commits noted too: the goal compares the median
      // request, which a rare commit of something else in this process (a session refresh, a
      // background check) landing inside one request cannot move, as it moves an average.
      const commitsPerRequest: number[] = [];
      for (let i = 0; i < COUNTED; i++) {
        const before = pgCounter.snapshot().commits;
        const { replayed } = await s.call(0, i); // i: each rename to a new name (an unchanged name writes no event)
        if (replayed !== s.expectReplay) throw new Error(`counted request ${i}: replayed=${replayed}, expected ${s.expectReplay}`);
        commitsPerRequest.push(pgCounter.snapshot().commits - before);
      }
      medianCommits.set(`${s.mutation}, ${s.scenario}`, percentile([...commitsPerRequest].sort((a, b) => a - b), 50));
      const rAfter = redisCounter.snapshot();
      const sAfter = await commandStats(admin);
      counts.push({
        unit: `${s.mutation}, ${s.scenario}`,
        units: COUNTED,
        pg: pgDelta(pgBefore, pgCounter.snapshot()),
        redisClient: { roundTrips: rAfter.roundTrips - rBefore.roundTrips, commands: rAfter.commands - rBefore.commands },
        redisServer: commandDelta(sBefore, sAfter),
      });
    }
    await admin.quit();
    const serial = await measure(1, perRound);
    const loaded = await measure(CONCURRENCY, perRound);
    await probe.end();
    await cpuAdmin.quit();
    const rows: Row[] = scenarios.map((s, i) => ({ mutation: s.mutation, scenario: s.scenario, ...serial[i]!, rpsLoaded: loaded[i]!.rps, p50Loaded: loaded[i]!.p50 }));

    const f = (n: number) => n.toFixed(2);
    const lines = [
      `Idempotency-Key, in-process fetch handler, PostgreSQL + Redis on localhost, ${os.cpus().length} CPUs (shared). Latency: ${perRound * ROUNDS} requests per scenario one at a time; throughput: the same again with ${CONCURRENCY} concurrent callers. Scenarios interleaved in ${ROUNDS} rounds.`,
      "",
      `| mutation | scenario | p50 ms | p99 ms | mean ms | req/s (1) | req/s (${CONCURRENCY}) | p50 ms (${CONCURRENCY}) | p50 vs no key |`,
      "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const r of rows) {
      const base = rows.find((b) => b.mutation === r.mutation && b.scenario === "no key")!;
      const diff = r.p50 - base.p50;
      lines.push(`| ${r.mutation} | ${r.scenario} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.mean)} | ${r.rps.toFixed(0)} | ${r.rpsLoaded.toFixed(0)} | ${f(r.p50Loaded)} | ${r.scenario === "no key" ? "baseline" : `${diff >= 0 ? "+" : ""}${f(diff)} ms`} |`);
    }
    lines.push("", "What one request cost (this process's pg clients and ioredis round trips; commands on the bench's private redis-server):", "", countsTable(counts));
    // Statements sent while another of the same request was in flight (the claim beside BEGIN) are
    // not waited on one after the other: the round trips a request waits on are the rest.
    lines.push(
      "",
      "PostgreSQL round trips per request (one request at a time): sent, sent while another was in flight, waited on one after the other:",
      "",
      "| per unit | statements | alongside another | round trips waited on |",
      "|---|---:|---:|---:|",
      ...counts.map((c) => `| ${c.unit} | ${f(c.pg!.statements / c.units)} | ${f((c.pg!.overlapped ?? 0) / c.units)} | ${f(waitedOn(c))} |`),
    );
    lines.push(
      "",
      "CPU per request (µs; one request at a time: this process, the private redis-server, the bench database's PostgreSQL backends):",
      "",
      cpuTable(
        scenarios.map((s, i) => ({ unit: `${s.mutation}, ${s.scenario}`, units: serial[i]!.units, cpu: serial[i]!.cpu })),
        "this process",
      ),
    );
    lines.push("", "Targets (issue 12): a fresh key adds at most 25% p50 over no key and exactly one PostgreSQL commit; a replay is at least 3× faster than executing (fresh key).");
    console.log(lines.join("\n"));
    for (const mutation of [...new Set(rows.map((r) => r.mutation))]) {
      const get = (scenario: string) => rows.find((r) => r.mutation === mutation && r.scenario === scenario)!;
      const c = (scenario: string) => counts.find((x) => x.unit === `${mutation}, ${scenario}`)!;
      const over = get("fresh key").p50 / get("no key").p50 - 1;
      goal(`Idempotency-Key on ${mutation}: fresh key over no key, p50`, `${over >= 0 ? "+" : ""}${(over * 100).toFixed(0)}%`, "≤ +25%", over <= 0.25);
      const speedup = get("fresh key").p50 / get("replayed").p50;
      goal(`Idempotency-Key on ${mutation}: replay vs executing, p50`, `${speedup.toFixed(1)}×`, "≥ 3×", speedup >= 3);
      const extra = (c("fresh key").pg!.commits - c("no key").pg!.commits) / COUNTED;
      const extraWaited = waitedOn(c("fresh key")) - waitedOn(c("no key"));
      goal(`Idempotency-Key on ${mutation}: PostgreSQL round trips waited on, keyed minus unkeyed`, extraWaited.toFixed(2), "≤ 1 (was 2)", extraWaited <= 1.05);
      const medianExtra = medianCommits.get(`${mutation}, fresh key`)! - medianCommits.get(`${mutation}, no key`)!;
      goal(
        `Idempotency-Key on ${mutation}: PostgreSQL commits, keyed minus unkeyed`,
        `${medianExtra} (median request; mean ${extra.toFixed(2)})`,
        "exactly 1",
        medianExtra === 1,
      );
    }
  } finally {
    await sessionCache.close();
    await db.$disconnect();
    await clearPrefix(redis, PREFIX);
    await redis.quit();
    await rm(storageDir, { recursive: true, force: true });
    await redisServer.close();
    await database.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
