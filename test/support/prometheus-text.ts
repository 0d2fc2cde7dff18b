/**
 * Reading Prometheus text exposition in tests: every sample with its labels, and the metric names a
 * PromQL expression refers to (for "does every rule and panel use a metric that is exported?").
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[3] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = raw!.replace(/\\(.)/g, "$1");
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** MetaStore's metric names in a PromQL expression (every metric of the project starts with metastore_). */
export function metastoreMetricsIn(expr: string): string[] {
  return [...new Set(expr.match(/\bmetastore_[a-z0-9_]+/g) ?? [])];
}

/** Every series name a scrape can hold: its samples, and each declared family (a histogram's _bucket, _count, _sum). */
export function exportedNames(text: string): Set<string> {
  const names = new Set(parseSamples(text).map((s) => s.name));
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) names.add(name! + suffix);
    else if (type === "summary") for (const suffix of ["", "_count", "_sum"]) names.add(name! + suffix);
    else names.add(name!);
  }
  return names;
}
