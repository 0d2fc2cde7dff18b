/**
 * Timing a dashboard query function and reading the plans of the SQL it sends, without copying
 * its SQL: every statement the function's pg client sends during one call is captured (text and
 * parameters, by patching pg.Client.prototype.query in this process), then EXPLAINed with the same
 * parameters on a separate connection.
 */
import pg from "pg";
import { percentile } from "../support";

interface Captured {
  text: string;
  values: unknown[];
}

let capturing: Captured[] | null = null;
let installed = false;

function install() {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: object, ...args: unknown[]) {
    if (capturing) {
      const first = args[0] as string | { text?: string; values?: unknown[] } | null;
      const text = typeof first === "string" ? first : (first?.text ?? "");
      const values = typeof first === "string" ? ((args[1] as unknown[] | undefined) ?? []) : (first?.values ?? []);
      if (/^\s*(SELECT|WITH)\b/i.test(text)) capturing.push({ text, values });
    }
    return original.apply(this, args);
  };
}

/** The SELECT/WITH statements `fn` sends (run once). */
export async function captureStatements(fn: () => Promise<unknown>): Promise<Captured[]> {
  install();
  capturing = [];
  try {
    await fn();
    return capturing;
  } finally {
    capturing = null;
  }
}

export interface PlanSummary {
  /** Node types in plan order, with the relation/index they read: "Index Scan(outbox_event_status_id_idx)". */
  nodes: string[];
  /** Sequential scans of the named big tables. */
  seqScansOnBig: string[];
  /** Planner's estimated total cost of the most expensive statement. */
  maxCost: number;
}

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; "Total Cost"?: number; Plans?: PlanNode[] };

/** EXPLAIN every captured statement with its parameters; node types deduplicated in order. */
export async function explainAll(client: pg.Client, statements: Captured[], bigTables: string[]): Promise<PlanSummary> {
  const nodes: string[] = [];
  const seq: string[] = [];
  let maxCost = 0;
  for (const s of statements) {
    const { rows } = await client.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>({ text: `EXPLAIN (FORMAT JSON) ${s.text}`, values: s.values });
    const root = rows[0]!["QUERY PLAN"][0]!.Plan;
    maxCost = Math.max(maxCost, root["Total Cost"] ?? 0);
    const walk = (n: PlanNode) => {
      const target = n["Index Name"] ?? n["Relation Name"];
      const label = target ? `${n["Node Type"]}(${target})` : n["Node Type"];
      if (!nodes.includes(label)) nodes.push(label);
      if (n["Node Type"] === "Seq Scan" && n["Relation Name"] && bigTables.includes(n["Relation Name"]) && !seq.includes(n["Relation Name"])) seq.push(n["Relation Name"]);
      for (const c of n.Plans ?? []) walk(c);
    };
    walk(root);
  }
  return { nodes, seqScansOnBig: seq, maxCost };
}

/**
 * Shared buffers (8 kB pages, hit in PostgreSQL's cache or read) that one run of the statements
 * touches, from EXPLAIN (ANALYZE, BUFFERS): a count of the work done that does not swing with the
 * machine's load the way milliseconds do. The root node's counts include its children's (and the
 * CTEs and InitPlans run under it); planning is not counted. The statements are run for real, so
 * only SELECT/WITH ones are captured (see install()). `rows`: the rows the statements return.
 */
export async function sharedBuffers(client: pg.Client, statements: Captured[]): Promise<{ blocks: number; rows: number }> {
  let blocks = 0;
  let rows = 0;
  for (const s of statements) {
    const { rows: out } = await client.query<{ "QUERY PLAN": Array<{ Plan: Record<string, number> }> }>({
      text: `EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) ${s.text}`,
      values: s.values,
    });
    const root = out[0]!["QUERY PLAN"][0]!.Plan;
    blocks += (root["Shared Hit Blocks"] ?? 0) + (root["Shared Read Blocks"] ?? 0);
    rows += root["Actual Rows"] ?? 0;
  }
  return { blocks, rows };
}

/** Node labels a reader needs (joins, sorts and scans), without the plumbing nodes. */
export function shortPlan(p: PlanSummary): string {
  const skip = new Set(["Result", "Limit", "Subquery Scan", "Materialize", "Append", "CTE Scan", "Aggregate", "Unique"]);
  return p.nodes.filter((n) => !skip.has(n.replace(/\(.*$/, ""))).join(", ");
}

/** p50 and p95 (ms) of `reps` calls of `fn`, after `warmup` calls. */
export async function timeCalls(fn: () => Promise<unknown>, reps: number, warmup = 2): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

export const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/**
 * p50/p95 (ms) of `a` and `b`, called in alternation (a, b, a, b …, after `warmup` calls of each),
 * so whatever else loads the shared machine weighs on both alike: their ratio is the measurement.
 */
export async function timeInterleaved(a: () => Promise<unknown>, b: () => Promise<unknown>, reps: number, warmup = 2) {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < reps; i++) {
    for (const [fn, into] of i % 2 ? ([[b, tb], [a, ta]] as const) : ([[a, ta], [b, tb]] as const)) {
      const t = performance.now();
      await fn();
      into.push(performance.now() - t);
    }
  }
  ta.sort((x, y) => x - y);
  tb.sort((x, y) => x - y);
  return { a: { p50: percentile(ta, 50), p95: percentile(ta, 95), samples: ta }, b: { p50: percentile(tb, 50), p95: percentile(tb, 95), samples: tb } };
}
