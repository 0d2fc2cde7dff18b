/**
 * Many web instances and many workers behind HAProxy, each under a supervisor (restarted when it
 * exits by itself, killable on demand). Used by `npm run deploy:local` and the scale suite, so both run
 * the same processes the same way. PostgreSQL and Redis are the caller's (already migrated).
 */
import path from "node:path";
import { ensureHaproxy, writeHaproxyConfig } from "./haproxy";
import { manage, type ManagedProcess } from "./supervisor";
import { fetchWithDeadline } from "./fetch-with-deadline";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

export interface ClusterOptions {
  /** Logs (web-N.log, worker-N.log, haproxy.log) and the rendered haproxy.cfg. */
  dir: string;
  /** The app's environment for every process (DATABASE_URL, REDIS_URL, SESSION_SECRET, ...). */
  env: Record<string, string | undefined>;
  webPorts: number[];
  workerHealthPorts: number[];
  /** Each worker's Prometheus /metrics port (WORKER_METRICS_PORT); absent: off (0). */
  workerMetricsPorts?: number[];
  /** HAProxy's port in front of the web instances; null: no proxy (one instance, used directly). */
  proxyPort: number | null;
  restartDelayMs?: { web: number; worker: number };
  log?: (line: string) => void;
}

export interface Cluster {
  /** Where clients go: HAProxy, or the single web instance without one. */
  baseUrl: string;
  webs: ManagedProcess[];
  workers: ManagedProcess[];
  haproxy: ManagedProcess | null;
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const { res } = await fetchWithDeadline(url, {}, 2000);
    // Any answer from the app (503 "degraded" included) means it serves; HAProxy's own 503 (no
    // instance up yet) has no JSON body.
    return res.headers.get("content-type")?.includes("json") ?? false;
  } catch {
    return false;
  }
}

export function startCluster(opts: ClusterOptions): Cluster {
  const proxied = opts.proxyPort !== null;
  const origin = proxied ? `http://127.0.0.1:${opts.proxyPort}` : `http://127.0.0.1:${opts.webPorts[0]}`;
  const defaults: Record<string, string> = {
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    APP_ORIGIN: origin,
    // Behind HAProxy the client's address is the last X-Forwarded-For entry (HAProxy appends it);
    // without a proxy nothing in front may be trusted.
    TRUST_PROXY: proxied ? "1" : "0",
  };
  const env = { ...defaults, ...opts.env } as NodeJS.ProcessEnv;
  const delay = opts.restartDelayMs ?? { web: 500, worker: 1000 };
  const webs = opts.webPorts.map((port, i) =>
    manage({
      name: `web-${i + 1}`,
      command: process.execPath,
      args: [path.join(ROOT, "node_modules", "next", "dist", "bin", "next"), "start", "-p", String(port), "-H", "127.0.0.1"],
      env: { ...env, PORT: String(port), WORKER_HEALTH_PORT: "0", WORKER_METRICS_PORT: "0" },
      cwd: ROOT,
      logFile: path.join(opts.dir, `web-${i + 1}.log`),
      probe: () => answers(`http://127.0.0.1:${port}/api/health`),
      restartDelayMs: delay.web,
    }),
  );
  const workers = opts.workerHealthPorts.map((port, i) =>
    manage({
      name: `worker-${i + 1}`,
      command: process.execPath,
      args: ["--import", "tsx", path.join(ROOT, "worker", "index.ts")],
      // Several workers on one host: each its own health port, and its own metrics port or none.
      env: { ...env, WORKER_HEALTH_PORT: String(port), WORKER_METRICS_PORT: String(opts.workerMetricsPorts?.[i] ?? 0) },
      cwd: ROOT,
      logFile: path.join(opts.dir, `worker-${i + 1}.log`),
      probe: () => answers(`http://127.0.0.1:${port}/healthz`),
      restartDelayMs: delay.worker,
    }),
  );
  let haproxy: ManagedProcess | null = null;
  if (proxied) {
    ensureHaproxy(opts.log);
    const bind = `127.0.0.1:${opts.proxyPort}`;
    const config = writeHaproxyConfig(opts.dir, opts.webPorts, bind);
    haproxy = manage({
      name: "haproxy",
      command: "haproxy",
      // -db: stay in the foreground (the supervisor owns the process); -W: master-worker, so SIGTERM stops it cleanly.
      args: ["-W", "-db", "-f", config],
      env: { ...process.env, HAPROXY_BIND: bind },
      cwd: ROOT,
      logFile: path.join(opts.dir, "haproxy.log"),
      probe: () => answers(`${origin}/api/health`),
      restartDelayMs: 500,
    });
  }
  const all = [...webs, ...workers, ...(haproxy ? [haproxy] : [])];
  return {
    baseUrl: origin,
    webs,
    workers,
    haproxy,
    async ready(timeoutMs) {
      await Promise.all(all.map((p) => p.ready(timeoutMs)));
    },
    async stop() {
      // The proxy first (no new requests), then the web instances and the workers.
      await haproxy?.stop();
      await Promise.all([...webs, ...workers].map((p) => p.stop()));
    },
  };
}
