/**
 * What observing costs (`npm run bench:metrics`): the constant procedure `health.ping` through the
 * real tRPC fetch handler with the request histograms (as the app composes it) and without, in
 * alternating rounds so both see the same machine load; then the raw cost of one histogram
 * observation. Prints the p50 per request of each and the ratio. Nothing here needs PostgreSQL or
 * Redis to answer (ping reads neither; a signed-out request resolves no session).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createTrpcHttpHandler } from "../src/server/api/http-handler";
import { createSessionManager } from "../src/server/auth/session";
import { createSignInThrottle } from "../src/server/auth/sign-in-throttle";
import { createDb } from "../src/server/platform/db/client";
import { createRequestMetrics } from "../src/server/metrics/request-metrics";
import { redisConnectionOptions } from "../src/server/platform/redis";
import type { AppServices } from "../src/server/services";
import { withDomainServices } from "../src/server/composition";
import { LocalDiskStorage } from "../src/server/platform/storage/local-disk-storage";
import { createWorkerMetrics } from "../worker/metrics";
import { PG_ADMIN, percentile } from "./support";

const QUICK = process.env.BENCH_QUICK === "1";
const ROUNDS = QUICK ? 6 : 20;
const PER_ROUND = QUICK ? 1000 : 3000;

async function main() {
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-bench-metrics-"));
  const db = createDb(PG_ADMIN, { max: 1 });
  const redis = new Redis(redisConnectionOptions(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1, lazyConnect: true }));
  const logger = pino({ level: "warn" });
  const base: AppServices = withDomainServices({
    db,
    redis,
    storage: new LocalDiskStorage(storageDir),
    sessions: createSessionManager(db, { secret: "bench-only-secret-bench-only-secret-0123", ttlSeconds: 3600, secureCookie: false }),
    signInThrottle: createSignInThrottle({ redis, prefix: "bench-metrics", logger }),
    logger,
    config: { maxUploadBytes: 1024 * 1024, queuePrefix: "bench-metrics" },
  });
  const requestMetrics = createRequestMetrics();
  const handlers = { without: createTrpcHttpHandler(base), with: createTrpcHttpHandler({ ...base, requestMetrics }) };
  const times: Record<keyof typeof handlers, number[]> = { without: [], with: [] };
  const call = async (h: (r: Request) => Promise<Response>) => {
    const res = await h(new Request("http://localhost/api/trpc/health.ping"));
    if (res.status !== 200) throw new Error(`ping answered ${res.status}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 500; i++) for (const h of Object.values(handlers)) await call(h); // warm up both
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of (round % 2 ? ["with", "without"] : ["without", "with"]) as Array<keyof typeof handlers>) {
      for (let i = 0; i < PER_ROUND; i++) {
        const t0 = performance.now();
        await call(handlers[name]);
        times[name].push(performance.now() - t0);
      }
    }
  }
  const p50 = (name: keyof typeof handlers) => percentile([...times[name]].sort((a, b) => a - b), 50);
  const counted = (await requestMetrics.registry.getMetricsAsJSON()).length;

  // One histogram observation, as the worker makes per event, consumer run and saga step.
  const worker = createWorkerMetrics({ defaultMetrics: false });
  const N = QUICK ? 200_000 : 1_000_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) worker.consumerRan("file-inspector", "handled", 0.004);
  const perObserveUs = ((performance.now() - t0) * 1000) / N;

  console.log(`health.ping through the tRPC fetch handler, ${ROUNDS} alternating rounds × ${PER_ROUND} calls each side`);
  console.log(`  p50 without request metrics: ${(p50("without") * 1000).toFixed(1)} µs`);
  console.log(`  p50 with request metrics:    ${(p50("with") * 1000).toFixed(1)} µs  (${counted} histograms)`);
  console.log(`  ratio with/without: ${(p50("with") / p50("without")).toFixed(3)}  (+${((p50("with") - p50("without")) * 1000).toFixed(1)} µs per request)`);
  console.log(`one worker histogram observation: ${perObserveUs.toFixed(3)} µs`);
  // On the cheapest request there is (no database, no Redis) the share is largest; on real ones it is smaller.
  const ratio = p50("with") / p50("without");
  console.log(`GOAL|request histograms on health.ping (the cheapest request), p50 with / without|${ratio.toFixed(3)}|≤ 1.15|${ratio <= 1.15 ? "met" : "not met"}`);
  redis.disconnect();
  await db.$disconnect();
  await rm(storageDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
