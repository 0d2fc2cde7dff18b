/**
 * CPU used by groups of processes during a run, read from /proc (Linux): each process's utime +
 * stime (clock ticks) sampled every `everyMs`, summed per group, over the run's wall time. Groups are
 * re-resolved at every sample (PostgreSQL backends come and go with connections), and the whole
 * machine's busy time (/proc/stat) is read beside them, so work of other processes shows as
 * "other". The result is in cores (1.0 = one core busy the whole time).
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK))

function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces), "(...)"; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null; // exited
  }
}

function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + (cpu[4] ?? 0);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuUse {
  seconds: number;
  /** Cores used per group over the run. */
  groups: Record<string, number>;
  /** The whole machine's busy cores, and what no group accounts for (other work on the machine). */
  machine: number;
  other: number;
}

export function sampleCpu(groups: () => Promise<Record<string, number[]>>, everyMs = 250) {
  const last = new Map<number, number>();
  const used = new Map<string, number>();
  const startedAt = Date.now();
  const machineStart = machineTicks();
  let stopped = false;
  const sample = async () => {
    const byGroup = await groups().catch(() => ({}) as Record<string, number[]>);
    for (const [group, pids] of Object.entries(byGroup)) {
      for (const pid of pids) {
        const ticks = processTicks(pid);
        if (ticks === null) continue;
        const before = last.get(pid);
        last.set(pid, ticks);
        // A pid seen for the first time contributes from its next sample on (its past is not this run's).
        if (before !== undefined) used.set(group, (used.get(group) ?? 0) + (ticks - before));
        else used.set(group, used.get(group) ?? 0);
      }
    }
  };
  const loop = (async () => {
    await sample();
    while (!stopped) {
      await new Promise((r) => setTimeout(r, everyMs));
      await sample();
    }
  })();
  return {
    async stop(): Promise<CpuUse> {
      stopped = true;
      await loop;
      const seconds = (Date.now() - startedAt) / 1000;
      const m = machineTicks();
      const cores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
      const groupsCores = Object.fromEntries([...used].map(([g, t]) => [g, cores(t)]));
      const machine = ((m.busy - machineStart.busy) / Math.max(1, m.total - machineStart.total)) * coresOnMachine();
      const accounted = Object.values(groupsCores).reduce((a, b) => a + b, 0);
      return { seconds, groups: groupsCores, machine, other: Math.max(0, machine - accounted) };
    },
  };
}

export function coresOnMachine(): number {
  return readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d+ /.test(l)).length;
}
