/**
 * CPU time a bench scenario cost, by process kind: on a shared 2-core machine the wall clock swings
 * 2–3× with other work, the CPU each unit burns much less. Node processes (this one via cpuUsage,
 * children via /proc), the bench's private redis-server (INFO cpu) and the PostgreSQL backends
 * serving the bench's database (/proc of the pids pg_stat_activity lists; read them before the
 * pools close, since a backend's CPU leaves with it).
 */
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import type pg from "pg";

export interface CpuMs {
  node: number;
  redis: number;
  pg: number;
}

/** CPU ms the redis-server has used since it started (user + sys). */
export async function redisCpuMs(admin: Redis): Promise<number> {
  const info = await admin.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return (field("used_cpu_user") + field("used_cpu_sys")) * 1000;
}

/** utime + stime of one process, in ms (0 if it is gone). */
export function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces); utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** This process's CPU ms so far (user + system). */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * The backends of `database` as pid → CPU ms so far, leaving out the prober's own and those whose
 * application_name is in `exceptApps` (the bench's own probes and writer, not the work measured).
 */
export async function pgBackendCpu(probe: pg.Client, database: string, exceptApps: string[] = []): Promise<Map<number, number>> {
  const { rows } = await probe.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND NOT (coalesce(application_name, '') = ANY($2::text[]))",
    [database, exceptApps],
  );
  return new Map(rows.map((r) => [r.pid, procCpuMs(r.pid)]));
}

/** Total CPU ms of those backends (as sagaperf's saga bench reads it just before its pools close). */
export async function pgBackendCpuMs(probe: pg.Client, database: string, exceptApps: string[] = []): Promise<number> {
  return [...(await pgBackendCpu(probe, database, exceptApps)).values()].reduce((a, b) => a + b, 0);
}

/** CPU used between two snapshots of backends: a backend new since `before` counts from 0. */
export function pgCpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, cpu] of after) ms += cpu - (before.get(pid) ?? 0);
  return ms;
}

/** A markdown table of CPU µs per unit, by process kind. */
export function cpuTable(rows: Array<{ unit: string; units: number; cpu: CpuMs }>, nodeHeader = "node processes"): string {
  const us = (ms: number, units: number) => ((ms * 1000) / units).toFixed(0);
  return [
    `| per unit | ${nodeHeader} | redis-server | PostgreSQL backends | total |`,
    "|---|---:|---:|---:|---:|",
    ...rows.map(({ unit, units, cpu }) => `| ${unit} | ${us(cpu.node, units)} | ${us(cpu.redis, units)} | ${us(cpu.pg, units)} | ${us(cpu.node + cpu.redis + cpu.pg, units)} |`),
  ].join("\n");
}
