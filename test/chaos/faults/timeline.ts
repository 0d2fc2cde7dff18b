/**
 * When each fault was in effect. The request invariants ask it whether an attempt overlapped an
 * outage: a failure is only allowed while PostgreSQL (or the web process itself) was down.
 */
export type FaultKind = "worker-kill" | "web-kill" | "redis-down" | "redis-flushall" | "pg-kill9" | "pg-immediate-stop";

export interface FaultWindow {
  kind: FaultKind;
  target: string;
  start: number;
  /** When the service was back (restarted and answering); for instantaneous faults, start. */
  end: number;
}

export class Timeline {
  readonly windows: FaultWindow[] = [];

  open(kind: FaultKind, target: string): FaultWindow {
    const w = { kind, target, start: Date.now(), end: Number.POSITIVE_INFINITY };
    this.windows.push(w);
    return w;
  }

  /** Does [start, end] overlap a window of one of `kinds`, extended by `graceMs` after it ended? */
  overlaps(start: number, end: number, kinds: FaultKind[], graceMs = 0): boolean {
    return this.windows.some((w) => kinds.includes(w.kind) && start <= w.end + graceMs && end >= w.start);
  }

  /** Is [start, end] entirely inside a window of `kind`? */
  inside(start: number, end: number, kind: FaultKind): boolean {
    return this.windows.some((w) => w.kind === kind && start >= w.start && end <= w.end);
  }

  lastEnd(): number {
    return Math.max(...this.windows.map((w) => w.end));
  }
}
