/** One invariant's verdict: its name, whether it held, a one-line figure, and the ids that broke it. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What broke it (ids, keys, messages): printed on failure, at most a screenful. */
  offenders: string[];
}

export function check(name: string, offenders: string[], detail: string): Check {
  return { name, ok: offenders.length === 0, detail, offenders };
}
