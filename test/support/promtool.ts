import { spawnSync } from "node:child_process";

/**
 * Prometheus' own checker (Debian's `prometheus` package). `npm test` installs it when missing (its
 * promtool suite); a test that needs it fails with this message rather than skipping.
 */
export function promtool(args: string[], input?: string): { status: number; output: string } {
  const run = spawnSync("promtool", args, { input, encoding: "utf8", timeout: 30_000 });
  if (run.error) throw new Error(`promtool could not run (${run.error.message}): apt-get install prometheus, or run npm test -- promtool once`);
  return { status: run.status ?? 1, output: `${run.stdout}${run.stderr}` };
}
