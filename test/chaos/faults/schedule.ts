/**
 * The fault plan: one after another, then overlapping. Times are from the start of the load.
 *
 *   every 5 s, 3–68 s    SIGKILL a worker (alternating), restarted 1 s later
 *   10 s                 Redis SIGKILLed; 8 s later restarted EMPTY
 *   22 s                 web SIGKILLed, restarted at once
 *   30 s                 Redis FLUSHALL
 *   36 s                 PostgreSQL kill -9 (postmaster and backends); restarted after 5 s
 *   50–62 s (overlap)    Redis down 50 → 60 (restarted empty); PostgreSQL immediate stop 53 → 58;
 *                        web SIGKILLed at 55; FLUSHALL at 66
 * The workers are killed throughout, so every other fault also happens with a worker dying.
 */
import { seededRandom } from "../load/random";
import type { World } from "../world";
import type { Timeline } from "./timeline";

export interface ScheduledFault {
  atMs: number;
  label: string;
  run(world: World, timeline: Timeline): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function killWorker(i: number): ScheduledFault["run"] {
  return async (world, timeline) => {
    const worker = world.workers[i]!;
    const w = timeline.open("worker-kill", worker.name);
    await worker.kill(1000);
    w.end = Date.now();
  };
}

export function killWeb(i = 0): ScheduledFault["run"] {
  return async (world, timeline) => {
    const web = world.webs[i]!;
    const w = timeline.open("web-kill", web.name);
    await web.kill(0);
    await web.ready(60_000);
    w.end = Date.now();
  };
}

function redisDown(downMs: number): ScheduledFault["run"] {
  return async (world, timeline) => {
    const w = timeline.open("redis-down", "redis");
    await world.redis.kill();
    await sleep(downMs);
    await world.redis.start(); // empty: nothing is persisted
    w.end = Date.now();
  };
}

function redisFlushAll(): ScheduledFault["run"] {
  return async (world, timeline) => {
    const w = timeline.open("redis-flushall", "redis");
    await world.redis.flushAll();
    w.end = Date.now();
  };
}

function postgresDown(how: "kill9" | "immediate", downMs: number): ScheduledFault["run"] {
  return async (world, timeline) => {
    const w = timeline.open(how === "kill9" ? "pg-kill9" : "pg-immediate-stop", "postgres");
    if (how === "kill9") await world.postgres.kill9();
    else await world.postgres.stopImmediate();
    await sleep(downMs);
    await world.postgres.start(); // crash recovery, then ready
    w.end = Date.now();
  };
}

export function faultSchedule(): ScheduledFault[] {
  const faults: ScheduledFault[] = [];
  for (let at = 3_000, i = 0; at <= 68_000; at += 5_000, i++) {
    faults.push({ atMs: at, label: `SIGKILL worker-${(i % 2) + 1}`, run: killWorker(i % 2) });
  }
  faults.push(
    { atMs: 10_000, label: "Redis SIGKILL, restarted empty after 8 s", run: redisDown(8_000) },
    { atMs: 22_000, label: "SIGKILL web", run: killWeb() },
    { atMs: 30_000, label: "Redis FLUSHALL", run: redisFlushAll() },
    { atMs: 36_000, label: "PostgreSQL kill -9, restarted after 5 s", run: postgresDown("kill9", 5_000) },
    { atMs: 50_000, label: "Redis SIGKILL, restarted empty after 10 s (overlapping)", run: redisDown(10_000) },
    { atMs: 53_000, label: "PostgreSQL immediate stop, restarted after 5 s (overlapping)", run: postgresDown("immediate", 5_000) },
    { atMs: 55_000, label: "SIGKILL web (overlapping)", run: killWeb() },
    { atMs: 66_000, label: "Redis FLUSHALL", run: redisFlushAll() },
  );
  return faults.sort((a, b) => a.atMs - b.atMs);
}

/**
 * The scale run's plan (3 web instances behind HAProxy, 4 workers): only process deaths, at random.
 * Every 4 s from 2 s a random worker is SIGKILLed (restarted 1 s later); at 6, 15, 24 and 33 s a
 * random web instance is SIGKILLed (restarted at once). Choices come from the run's seed.
 */
export function scaleFaultSchedule(seed: number, shape: { webs: number; workers: number }, lastAtMs: number): ScheduledFault[] {
  const random = seededRandom(seed * 7 + 1);
  const faults: ScheduledFault[] = [];
  for (let at = 2_000; at <= lastAtMs; at += 4_000) {
    const i = Math.floor(random.next() * shape.workers);
    faults.push({ atMs: at, label: `SIGKILL worker-${i + 1}`, run: killWorker(i) });
  }
  for (let at = 6_000; at <= lastAtMs; at += 9_000) {
    const i = Math.floor(random.next() * shape.webs);
    faults.push({ atMs: at, label: `SIGKILL web-${i + 1}`, run: killWeb(i) });
  }
  return faults.sort((a, b) => a.atMs - b.atMs);
}

/** Run the plan from `t0`; resolves when every fault has run and every service is back. */
export async function runFaults(world: World, timeline: Timeline, t0: number, log: (line: string) => void, schedule = faultSchedule()): Promise<void> {
  await Promise.all(
    schedule.map(async (fault) => {
      await sleep(Math.max(0, t0 + fault.atMs - Date.now()));
      log(`t=${((Date.now() - t0) / 1000).toFixed(1)}s fault: ${fault.label}`);
      await fault.run(world, timeline);
    }),
  );
}
