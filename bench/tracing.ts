/**
 * npm run bench:tracing — what tracing costs a keyed mutation (files.rename with an Idempotency-Key,
 * through the real tRPC fetch handler in-process, one request at a time, server-side latency).
 *
 *   off   no SDK started (OTEL_EXPORTER_OTLP_ENDPOINT unset): the production default
 *   on    the SDK as the web starts it, exporting OTLP http/protobuf (batched) to a receiver in
 *         this process that decodes every request: procedure span + every SQL and Redis span
 *
 * An SDK cannot be taken out of a process again, so each phase runs in a child process of its own;
 * phases alternate over BENCH_ROUNDS rounds (off, on, off, on, …) on the same database and Redis,
 * and the median of the rounds' p50s is reported, so load that drifts on a shared machine hits
 * both alike. "off" cannot be compared with a build without tracing in the same run, so its cost
 * is measured directly: the per-request work the off path still does (correlation id from the
 * headers, the tracing checks, the trace carrier) timed over many calls, as a share of the p50.
 *
 * Env: BENCH_REQUESTS per round (default 500), BENCH_WARMUP (default 100), BENCH_ROUNDS (default 4).
 */
import { spawn } from "node:child_process";
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
import { withDomainServices } from "../src/server/composition";
import { LocalDiskStorage } from "../src/server/platform/storage/local-disk-storage";
import { startOtlpReceiver } from "../test/support/otlp-receiver";
import { benchDatabase, benchRedis, percentile } from "./support";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const PHASE = process.env.BENCH_TRACING_PHASE as "off" | "on" | undefined;
const database = benchDatabase("metastore_bench_tracing");
const log = (msg: string) => process.stderr.write(`[bench:tracing] ${msg}\n`);

/** One phase in this (child) process: measure keyed renames with tracing off or on; print a JSON line. */
async function phase(mode: "off" | "on") {
  const db = createDb(process.env.DATABASE_URL!, { max: 10 });
  const redis = new Redis(redisConnectionOptions(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 }));
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-bench-trace-"));
  const prefix = `bench-trace-${randomUUID().slice(0, 8)}`;
  const sessions = createSessionManager(db, { secret: "bench-only-secret-bench-only-secret-0123", ttlSeconds: 3600, secureCookie: false });
  const services: AppServices = withDomainServices({
    db,
    redis,
    storage: new LocalDiskStorage(storageDir),
    sessions,
    signInThrottle: createSignInThrottle({ redis, prefix, logger: pino({ level: "warn" }) }),
    logger: pino({ level: "warn" }),
    config: { maxUploadBytes: 1024 * 1024, queuePrefix: prefix },
  });
  const receiver = mode === "on" ? await startOtlpReceiver(0) : null;
  const telemetry = receiver ? startTelemetry({ serviceName: "metastore-web", otlpEndpoint: receiver.url }) : null;
  const handler = createTrpcHttpHandler(services);
  try {
    const user = await db.user.create({ data: { email: `${prefix}@metastore.local`, name: "bench", passwordHash: "x", quotaBytes: 1n << 40n }, select: { id: true, sessionVersion: true } });
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
    for (let i = 0; i < WARMUP; i++) await rename();
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) times.push(await rename());
    times.sort((a, b) => a - b);
    let offPathMs: number | null = null;
    if (mode === "off") {
      // The off path's own per-request work, timed over many calls.
      const headers = new Headers({ cookie, "content-type": "application/json" });
      const calls = 200_000;
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) {
        correlationIdFromHeaders(headers);
        if (tracingEnabled()) throw new Error("tracing should be off");
        currentTraceCarrier();
      }
      offPathMs = (performance.now() - t0) / calls;
    }
    await telemetry?.flush();
    const spansPerRequest = receiver ? receiver.spans.length / (REQUESTS + WARMUP + 1) : 0;
    console.log(JSON.stringify({ mode, p50: percentile(times, 50), p99: percentile(times, 99), offPathMs, spansPerRequest }));
  } finally {
    await telemetry?.shutdown();
    await receiver?.close();
    await redis.quit();
    await db.$disconnect();
    await rm(storageDir, { recursive: true, force: true });
  }
}

interface PhaseResult {
  mode: "off" | "on";
  p50: number;
  p99: number;
  offPathMs: number | null;
  spansPerRequest: number;
}

function runPhase(mode: "off" | "on", redisUrl: string): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", import.meta.filename], {
      env: { ...process.env, BENCH_TRACING_PHASE: mode, DATABASE_URL: database.url, REDIS_URL: redisUrl },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop();
      if (code !== 0 || !line) return reject(new Error(`phase ${mode} exited with ${code}`));
      resolve(JSON.parse(line) as PhaseResult);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const redisServer = await benchRedis();
  await database.recreate();
  try {
    const results: PhaseResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ["off", "on"] as const) {
        const r = await runPhase(mode, redisServer.url);
        log(`round ${round + 1} ${mode}: p50 ${r.p50.toFixed(3)} ms`);
        results.push(r);
      }
    }
    const off = results.filter((r) => r.mode === "off");
    const on = results.filter((r) => r.mode === "on");
    const offP50 = median(off.map((r) => r.p50));
    const onP50 = median(on.map((r) => r.p50));
    const offPathMs = median(off.map((r) => r.offPathMs ?? 0));
    const ratios = off.map((r, i) => on[i]!.p50 / r.p50);
    const share = (x: number) => `${((x / offP50) * 100).toFixed(2)} %`;
    console.log(`
## Tracing cost (keyed files.rename, ${ROUNDS} rounds × ${REQUESTS} requests one at a time per phase, server-side)

| scenario | median p50 ms | median p99 ms | on/off p50 per round |
| --- | ---: | ---: | --- |
| off (no SDK) | ${offP50.toFixed(3)} | ${median(off.map((r) => r.p99)).toFixed(3)} | |
| on (OTLP http/protobuf, batched) | ${onP50.toFixed(3)} | ${median(on.map((r) => r.p99)).toFixed(3)} | ${ratios.map((x) => x.toFixed(2)).join(", ")} |

- off path's own work per request: ${(offPathMs * 1000).toFixed(2)} µs = ${share(offPathMs)} of the off p50
- tracing on: median on/off ratio ${median(ratios).toFixed(2)}× (${share(onP50 - offP50)} of the mutation p50); ${median(on.map((r) => r.spansPerRequest)).toFixed(1)} spans exported per request
`);
  } finally {
    await database.drop();
    await redisServer.close();
  }
}

(PHASE ? phase(PHASE) : main()).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
