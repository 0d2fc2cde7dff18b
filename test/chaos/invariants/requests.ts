/**
 * The request invariants, from the load client's own log of attempts and the fault timeline:
 * - never a hang (every attempt answered within the client timeout);
 * - an attempt failed (5xx or no answer) only while PostgreSQL was down, or — no answer — while the
 *   web process itself was dead;
 * - the failures while PostgreSQL was down say so in words, not in raw driver text;
 * - reads were answered while Redis was down (cache fail-open);
 * - every mutation got a definite answer, and no valid request was refused.
 */
import type { Attempt, Ledger } from "../load/ledger";
import type { Timeline } from "../faults/timeline";
import { check, type Check } from "./check";

/** After PostgreSQL is back, pooled connections to the dead server are found broken on first use. */
const PG_GRACE_MS = 3_000;
/** Raw driver / ORM text, stack frames, internal codes: what a client must never be shown. */
const RAW_ERROR = /prisma|invocation|DriverAdapter|ECONNREFUSED|ECONNRESET|terminat|57P0\d|\bat \S+:\d+|\n/i;

const at = (t0: number, ms: number) => `t=${((ms - t0) / 1000).toFixed(1)}s`;
const describe = (t0: number, a: Attempt) =>
  `${at(t0, a.start)}–${at(t0, a.end)} ${a.op}${a.key ? ` key=${a.key}` : ""}: ${a.outcome.kind === "error" ? `${a.outcome.status} ${a.outcome.code} "${a.outcome.message.slice(0, 160)}"` : `${a.outcome.kind} ${"message" in a.outcome ? a.outcome.message : ""}`}`;
const head = (items: string[]) => (items.length > 20 ? [...items.slice(0, 20), `… and ${items.length - 20} more`] : items);

export interface RequestFigures {
  attempts: number;
  ok: number;
  failedWhilePgDown: number;
  networkWhileWebDown: number;
  conflicts409: number;
  readsWhileRedisDown: number;
  slowestMutationWhileRedisDown: { op: string; ms: number } | null;
  errorMessagesWhilePgDown: Map<string, number>;
}

export function checkRequests(ledger: Ledger, timeline: Timeline, t0: number): { checks: Check[]; figures: RequestFigures } {
  // The fail-open check only means something in a run that took Redis down (the scale run does not).
  const redisFaults = timeline.windows.some((w) => w.kind === "redis-down");
  const pgDown = (a: Attempt) => timeline.overlaps(a.start, a.end, ["pg-kill9", "pg-immediate-stop"], PG_GRACE_MS);
  const webDown = (a: Attempt) => timeline.overlaps(a.start, a.end, ["web-kill"]);
  const failed = (a: Attempt) => a.outcome.kind === "network" || a.outcome.kind === "timeout" || (a.outcome.kind === "error" && a.outcome.status >= 500);

  const hangs = ledger.attempts.filter((a) => a.outcome.kind === "timeout").map((a) => describe(t0, a));
  const unexpected = ledger.attempts
    .filter(failed)
    .filter((a) => !pgDown(a) && !(a.outcome.kind === "network" && webDown(a)))
    .map((a) => describe(t0, a));
  const pgFailures = ledger.attempts.filter((a) => failed(a) && pgDown(a) && a.outcome.kind === "error");
  // Distinct answers (status + message) while PostgreSQL was down; line breaks kept visible as ⏎.
  const messages = new Map<string, number>();
  const rawOnes = new Set<string>();
  for (const a of pgFailures) {
    if (a.outcome.kind !== "error") continue;
    const text = `${a.outcome.status} ${a.outcome.message.trim().replace(/\s*\n\s*/g, " ⏎ ").slice(0, 200)}`;
    messages.set(text, (messages.get(text) ?? 0) + 1);
    if (RAW_ERROR.test(a.outcome.message)) rawOnes.add(text);
  }
  const unclear = [...rawOnes].map((m) => `${messages.get(m)}× ${m}`);

  const reads = ledger.attempts.filter((a) => a.key === null);
  const readsRedisDown = reads.filter((a) => timeline.inside(a.start, a.end, "redis-down") && !pgDown(a) && !webDown(a));
  const readsRedisDownFailed = readsRedisDown.filter((a) => a.outcome.kind !== "ok").map((a) => describe(t0, a));
  if (readsRedisDown.length === 0) readsRedisDownFailed.push("no read was made while only Redis was down: the check saw nothing");

  // Figure only (no stopwatch assert): how long a mutation took to answer while Redis was down.
  const redisOnly = ledger.attempts.filter((a) => a.key !== null && a.outcome.kind === "ok" && timeline.overlaps(a.start, a.end, ["redis-down"]) && !pgDown(a) && !webDown(a));
  const slowest = redisOnly.reduce<Attempt | null>((max, a) => (!max || a.end - a.start > max.end - max.start ? a : max), null);

  const unresolved = ledger.mutations.filter((m) => m.result === "unresolved").map((m) => `${m.op} key=${m.key} after ${m.attempts} attempts: ${m.lastMessage}`);
  const rejected = ledger.mutations.filter((m) => m.result === "rejected").map((m) => `${m.op} key=${m.key} file=${m.fileId}: ${m.lastMessage}`);
  const readErrors = reads.filter((a) => a.outcome.kind === "error" && a.outcome.status < 500).map((a) => describe(t0, a));

  return {
    checks: [
      check("never a hang (every request answered)", head(hangs), `${ledger.attempts.length} requests, ${hangs.length} unanswered after the client timeout`),
      check("requests failed only while PostgreSQL (or the web process) was down", head(unexpected), `${ledger.attempts.filter(failed).length} failed attempts, ${unexpected.length} outside those outages`),
      check("failures while PostgreSQL was down carry a clear message", unclear, `${pgFailures.length} answered with an error, ${messages.size} distinct message(s), ${unclear.length} raw`),
      ...(redisFaults ? [check("reads answered while Redis was down (cache fail-open)", head(readsRedisDownFailed), `${readsRedisDown.length} reads while Redis was down`)] : []),
      check("every mutation got a definite answer", head(unresolved), `${ledger.mutations.length} mutations`),
      check("no valid request refused (4xx)", head([...rejected, ...readErrors]), `${rejected.length} mutations, ${readErrors.length} reads refused`),
    ],
    figures: {
      attempts: ledger.attempts.length,
      ok: ledger.attempts.filter((a) => a.outcome.kind === "ok").length,
      failedWhilePgDown: ledger.attempts.filter((a) => failed(a) && pgDown(a)).length,
      networkWhileWebDown: ledger.attempts.filter((a) => a.outcome.kind === "network" && webDown(a)).length,
      conflicts409: ledger.attempts.filter((a) => a.outcome.kind === "error" && a.outcome.status === 409).length,
      readsWhileRedisDown: readsRedisDown.length,
      slowestMutationWhileRedisDown: slowest ? { op: slowest.op, ms: slowest.end - slowest.start } : null,
      errorMessagesWhilePgDown: messages,
    },
  };
}
