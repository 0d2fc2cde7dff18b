/**
 * npm run bench:tracing — what tracing costs a keyed mutation (files.rename with an Idempotency-Key,
 * through the real tRPC fetch handler in-process, one request at a time, server-side latency).
 *
 *   off   no SDK started (OTEL_EXPORTER_OTLP_ENDPOINT unset): the production default
 *   on    the SDK as the web starts it, exporting OTLP http/protobuf (batched) to a receiver in
 *         this process that decodes every request: procedure span + every SQL and Redis span
 *
 * "off" cannot be compared with a build without tracing in the same run, so its cost is measured
 * directly: the per-request work the off path still does (correlation id from the headers, the
 * tracing checks, the trace carrier) timed over many calls, as a share of the mutation's p50.
 * Phases run off first (the SDK cannot be un-patched from a process), each after its own warm-up.
 *
 * Env: BENCH_REQUESTS (default 1500), BENCH_WARMUP (default 200).
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createTrpcHttpHandler } from "../src/server/api/http-handler";
import { createSessionManager, SESSION_COOKIE } from "../src/server/auth/session";
import { createSignInThrottle } from "../src/server/auth/sign-in-throttle";
import { createDb } from "../src/server/platform/db/client";
import { correlationIdFromHeaders } from "../src/server/platform/correlation";
import { startTelemetry } from "../src/server/platform/telemetry/sdk";
import { currentTraceCarrier, tracingEnabled } from "../src/server/platform/telemetry/tracing";
import { redisConnectionOptions } from "../src/server/platform/redis";
import type { AppServices } from "../src/server/services";
import { LocalDiskStorage } from "../src/server/platform/storage/local-disk-storage";
import { startOtlpReceiver } from "../test/support/otlp-receiver";
import { benchDatabase, benchRedis, percentile } from "./support";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200);
const database = benchDatabase("metastore_bench_tracing");
const log = (msg: string) => process.stderr.write(`[bench:tracing] ${msg}\n`);

async function main() {
  const redisServer = await benchRedis();
  await database.recreate();
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-bench-trace-"));
  const db = createDb(database.url, { max: 10 });
  const redis = new Redis(redisConnectionOptions(redisServer.url, { maxRetriesPerRequest: 1 }));
  const prefix = `bench-trace-${randomUUID().slice(0, 8)}`;
  const sessions = createSessionManager(db, { secret: "bench-only-secret-bench-only-secret-0123", ttlSeconds: 3600, secureCookie: false });
  const services: AppServices = {
    db,
    redis,
    storage: new LocalDiskStorage(storageDir),
    sessions,
    signInThrottle: createSignInThrottle({ redis, prefix, logger: pino({ level: "warn" }) }),
    logger: pino({ level: "warn" }),
    config: { maxUploadBytes: 1024 * 1024, queuePrefix: prefix },
  };
  const handler = createTrpcHttpHandler(services);
  const receiver = await startOtlpReceiver(0);
  try {
    const user = await db.user.create({ data: { email: "bench@metastore.local", name: "bench", passwordHash: "x", quotaBytes: 1n << 40n }, select: { id: true, sessionVersion: true } });
    const cookie = `${SESSION_COOKIE}=${await sessions.seal(user)}`;
    const fd = new FormData();
    fd.append("file", new File(["bench"], "bench.txt", { type: "text/plain" }));
    const created = await handler(new Request("http://localhost/api/trpc/files.upload", { method: "POST", body: fd, headers: { cookie } }));
    const fileId = ((await created.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id;

    let n = 0;
    const rename = async () => {
      const body = JSON.stringify({ json: { id: fileId, name: `renamed-${n++}.txt` } });
      const started = performance.now();
      const res = await handler(new Request("http://localhost/api/trpc/files.rename", { method: "POST", body, headers: { cookie, "content-type": "application/json", "idempotency-key": randomUUID() } }));
      await res.text();
      if (res.status !== 200) throw new Error(`rename answered ${res.status}`);
      return performance.now() - started;
    };
    const measure = async (label: string) => {
      for (let i = 0; i < WARMUP; i++) await rename();
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) times.push(await rename());
      times.sort((a, b) => a - b);
      log(`${label}: p50 ${percentile(times, 50).toFixed(3)} ms`);
      return { p50: percentile(times, 50), p99: percentile(times, 99) };
    };

    const off = await measure("off");
    // The off path's own per-request work, timed over many calls.
    const headers = new Headers({ cookie, "content-type": "application/json" });
    const calls = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      correlationIdFromHeaders(headers);
      if (tracingEnabled()) throw new Error("tracing should be off");
      currentTraceCarrier();
    }
    const offPathMs = (performance.now() - t0) / calls;

    const telemetry = startTelemetry({ serviceName: "metastore-web", otlpEndpoint: receiver.url })!;
    const on = await measure("on");
    await telemetry.flush();
    const spansPerRequest = receiver.spans.length / (REQUESTS + WARMUP);
    await telemetry.shutdown();

    const share = (x: number) => `${((x / off.p50) * 100).toFixed(2)} %`;
    console.log(`
## Tracing cost (keyed files.rename, ${REQUESTS} requests one at a time, server-side)

| scenario | p50 ms | p99 ms | vs off |
| --- | ---: | ---: | ---: |
| off (no SDK) | ${off.p50.toFixed(3)} | ${off.p99.toFixed(3)} | 1.00× |
| on (OTLP http/protobuf, batched) | ${on.p50.toFixed(3)} | ${on.p99.toFixed(3)} | ${(on.p50 / off.p50).toFixed(2)}× |

- off path's own work per request: ${(offPathMs * 1000).toFixed(2)} µs = ${share(offPathMs)} of the off p50
- tracing on adds ${(on.p50 - off.p50).toFixed(3)} ms = ${share(on.p50 - off.p50)} of the mutation p50; ${spansPerRequest.toFixed(1)} spans exported per request
`);
  } finally {
    await receiver.close();
    await redis.quit();
    await db.$disconnect();
    await rm(storageDir, { recursive: true, force: true });
    await database.drop();
    await redisServer.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
