/** The run's table (faults, requests, committed changes, convergence) and the invariants' verdicts. */
import type { Timeline } from "./faults/timeline";
import type { Ledger } from "./load/ledger";
import type { Check } from "./invariants/check";
import type { DataFigures } from "./invariants/data";
import type { RequestFigures } from "./invariants/requests";
import type { Convergence } from "./invariants/convergence";

export function renderTable(args: {
  timeline: Timeline;
  ledger: Ledger;
  requests: RequestFigures;
  data: DataFigures | null;
  convergence: Convergence;
  boundMs: number;
  workerSelfExits: number;
}): string {
  const { timeline, ledger, requests, data, convergence } = args;
  const faults = new Map<string, number>();
  for (const w of timeline.windows) faults.set(w.kind, (faults.get(w.kind) ?? 0) + 1);
  const ops = new Map<string, number>();
  for (const m of ledger.committed()) ops.set(m.op, (ops.get(m.op) ?? 0) + 1);
  const rows: Array<[string, string]> = [
    ["faults injected", `${timeline.windows.length} (${[...faults].map(([k, v]) => `${k} ${v}`).join(", ")})`],
    ["worker exits on their own", `${args.workerSelfExits} (restarted; a worker started while PostgreSQL or Redis is down exits)`],
    ["requests", `${requests.attempts} (ok ${requests.ok}, failed while PostgreSQL down ${requests.failedWhilePgDown}, refused while web down ${requests.networkWhileWebDown}, 409 in progress ${requests.conflicts409})`],
    ["while Redis down", `${requests.readsWhileRedisDown} reads answered; slowest 2xx mutation ${requests.slowestMutationWhileRedisDown ? `${requests.slowestMutationWhileRedisDown.op} ${(requests.slowestMutationWhileRedisDown.ms / 1000).toFixed(1)} s` : "none"}`],
    ["answers while PostgreSQL down", [...requests.errorMessagesWhilePgDown].map(([m, n]) => `${n}× ${m}`).join("; ") || "none"],
    ["mutations", `${ledger.mutations.length}, committed ${ledger.committed().length} (${[...ops].map(([k, v]) => `${k} ${v}`).join(", ")}), replayed ${ledger.mutations.filter((m) => m.replayed).length}`],
    ["events", data ? `${data.events}; lost ${data.lost}, duplicated ${data.duplicated}` : "not checked"],
    ["events sent again by the reconciler", data ? data.reconciled : "not checked"],
    ["sagas", data ? `${Object.entries(data.sagas).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}; stuck ${data.stuckSagas}` : "not checked"],
    ["live files", data ? `${data.activeFiles}; orphan sweep removed ${data.sweptBlobs} blob(s)` : "not checked"],
    ["convergence", `${convergence.converged ? `${(convergence.ms / 1000).toFixed(1)} s` : `NOT within ${(convergence.ms / 1000).toFixed(0)} s`} after the last fault (bound ${(args.boundMs / 1000).toFixed(0)} s)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return ["| what | figure |", "|---|---|", ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`)].join("\n");
}

export function renderChecks(checks: Check[]): string {
  return checks
    .map((c) => {
      const line = `${c.ok ? "PASS" : "FAIL"}  ${c.name} — ${c.detail}`;
      return c.ok ? line : [line, ...c.offenders.map((o) => `        ${o}`)].join("\n");
    })
    .join("\n");
}
