/**
 * Reading the plans of the SQL a function sends, without copying its SQL: every statement the
 * function's pg client sends during one call is captured (text and parameters, by patching
 * pg.Client.prototype.query in this process), then EXPLAINed with the same parameters on a
 * separate connection. Shared by the plan tests under src/ and the dashboard benchmark (bench/).
 */
import pg from "pg";

export interface Captured {
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
