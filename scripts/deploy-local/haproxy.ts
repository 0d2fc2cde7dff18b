/**
 * HAProxy for a local cluster: Debian's package (installed with apt-get when missing and this is a
 * Debian machine run as root, as CI is), the policy in deploy/haproxy.cfg rendered with this run's
 * ports, and the process run in the foreground under the cluster's supervisor.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const HAPROXY_TEMPLATE = path.join(ROOT, "deploy", "haproxy.cfg");

const hasHaproxy = () => spawnSync("haproxy", ["-v"], { stdio: "ignore" }).status === 0;

/** Make sure `haproxy` is on the PATH, installing Debian's package if we may; throws with what to do otherwise. */
export function ensureHaproxy(log: (line: string) => void = console.log): void {
  if (hasHaproxy()) return;
  const canApt = process.getuid?.() === 0 && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status === 0;
  if (!canApt) throw new Error("haproxy is not installed: `sudo apt-get install haproxy` (Debian/Ubuntu) or `brew install haproxy`, then run again");
  log("haproxy is missing: installing Debian's package (apt-get install haproxy)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = spawnSync("apt-get", ["install", "-y", "haproxy"], { stdio: "ignore", env });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "ignore", env });
    r = spawnSync("apt-get", ["install", "-y", "haproxy"], { stdio: "inherit", env });
  }
  if (r.status !== 0 || !hasHaproxy()) throw new Error("apt-get install haproxy failed: install it by hand and run again");
}

/**
 * deploy/haproxy.cfg with this run's web instances: the lines between "# servers: begin" and
 * "# servers: end" become one `server` line per instance. The bind address stays "${HAPROXY_BIND}"
 * (HAProxy reads it from the environment).
 */
export function renderHaproxyConfig(webPorts: number[], template = readFileSync(HAPROXY_TEMPLATE, "utf8")): string {
  const begin = template.indexOf("# servers: begin");
  const end = template.indexOf("# servers: end");
  if (begin < 0 || end < begin) throw new Error(`${HAPROXY_TEMPLATE} has no "# servers: begin" … "# servers: end" block`);
  const indent = template.slice(template.lastIndexOf("\n", begin) + 1, begin);
  const servers = webPorts.map((port, i) => `${indent}server web${i + 1} 127.0.0.1:${port}`).join("\n");
  return `${template.slice(0, begin)}# servers: begin (rendered for ${webPorts.length} instances)\n${servers}\n${indent}${template.slice(end)}`;
}

/** Write the rendered config to `dir` and check it with `haproxy -c`; returns its path. */
export function writeHaproxyConfig(dir: string, webPorts: number[], bind: string): string {
  const file = path.join(dir, "haproxy.cfg");
  writeFileSync(file, renderHaproxyConfig(webPorts));
  const check = spawnSync("haproxy", ["-c", "-q", "-f", file], { env: { ...process.env, HAPROXY_BIND: bind }, encoding: "utf8" });
  if (check.status !== 0) throw new Error(`haproxy -c refused ${file}:\n${check.stdout}${check.stderr}`);
  return file;
}
