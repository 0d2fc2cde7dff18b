/**
 * Both /metrics endpoints against real work: the web's request histograms (the tRPC handler and
 * /api/metrics handler Next.js serves, in this process) and a real worker process (`worker/index.ts`,
 * spawned on this test's database, Redis prefix and storage) whose own /metrics is scraped over HTTP
 * after an upload went through the file-upload saga and its events were relayed and consumed.
 * Then the deploy files are held to what is exported: every metric an alert rule or a dashboard
 * panel names must be in one of the two scrapes, and promtool must accept the outputs and the PromQL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createMetricsHandler } from "~/server/api/metrics-handler";
import type { SessionUser } from "~/server/auth/session";
import { FILE_UPLOAD_STEPS } from "~/server/features/files/upload-saga";
import { appRouter, createTestApp, TEST_REDIS_URL, type TestApp } from "../support/app";
import { exportedNames, metastoreMetricsIn, parseSamples, sumOf } from "../support/prometheus-text";
import { promtool } from "../support/promtool";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** This test's private port (the metrics suite's range is 3480-3499). */
const WORKER_METRICS_PORT = 3481;
const METRICS_TOKEN = "metrics-test-token-0123456789";

/**
 * prom-client's default Node.js metrics name three gauges `nodejs_active_*_total`, which promtool's
 * lint flags (a `_total` suffix is for counters). They are the library's names, not ours: every
 * other problem fails the test.
 */
const LIBRARY_LINT_PROBLEMS = /^metastore_(web|worker)_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

let app: TestApp;
let user: SessionUser;
let worker: ChildProcess;
let workerLog = "";
let webText = "";
let workerText = "";

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; worker log:\n${workerLog.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const scrapeWorker = async () => {
  const res = await fetch(`http://127.0.0.1:${WORKER_METRICS_PORT}/metrics`);
  if (!res.ok) throw new Error(`worker /metrics answered ${res.status}`);
  return res.text();
};

async function scrapeWeb(): Promise<string> {
  const handler = createMetricsHandler(app.services, { token: METRICS_TOKEN });
  const res = await handler(new Request("http://localhost/api/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }));
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  app = await createTestApp();
  user = await app.createUser();
  worker = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "worker", "index.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: "test",
      DATABASE_URL: app.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: app.prefix,
      STORAGE_DIR: app.storageDir,
      SESSION_SECRET: "metrics-test-secret-metrics-test-secret",
      LOG_LEVEL: "warn",
      WORKER_HEALTH_PORT: "0",
      WORKER_METRICS_PORT: String(WORKER_METRICS_PORT),
      OUTBOX_POLL_INTERVAL_MS: "200",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  worker.stdout!.on("data", (d: Buffer) => (workerLog += d.toString()));
  worker.stderr!.on("data", (d: Buffer) => (workerLog += d.toString()));
  await until("the worker's /metrics to answer", scrapeWorker);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker.once("exit", r));
    worker.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (worker.exitCode === null) worker.kill("SIGKILL");
  }
  await app?.close();
});

describe("metrics of real work, scraped from the web and the worker", () => {
  it("counts an upload through the saga, its events relayed and consumed, and the requests around it", async () => {
    const fd = new FormData();
    fd.append("file", new File(["metrics: one upload through the saga\n"], "metrics.txt", { type: "text/plain" }));
    const started = await app.http("/api/trpc/files.startUpload", { method: "POST", body: fd, user });
    expect(started.status).toBe(200);
    const { result } = (await started.json()) as { result: { data: { json: { sagaId: string } } } };
    const sagaId = result.data.json.sagaId;
    // A client error (a malformed id) and a caller who is not signed in: both 4xx.
    const badInput = await app.http(`/api/trpc/files.get?input=${encodeURIComponent(JSON.stringify({ json: { id: "not-a-uuid" } }))}`, { user });
    expect(badInput.status).toBe(400);
    expect((await app.http("/api/trpc/files.list?input=%7B%22json%22%3A%7B%7D%7D")).status).toBe(401);
    // A path of the caller's choosing (hostile input) must not become a label value.
    expect((await app.http(`/api/trpc/not.a.procedure.${randomUUID()}`, { user })).status).toBe(404);

    // The saga completes in the worker, and every event it wrote is consumed there.
    await until("the saga to complete", async () => (await app.services.db.sagaInstance.findUnique({ where: { id: sagaId } }))?.status === "completed");
    const events = await until("the upload's events to be consumed", async () => {
      const rows = await app.services.db.outboxEvent.findMany({ select: { eventType: true, consumedAt: true } });
      return rows.length > 0 && rows.every((r) => r.consumedAt) ? rows : null;
    });
    const uploaded = events.filter((e) => e.eventType === "file.uploaded").length;
    expect(uploaded).toBe(1);
    // The worker observes the end-to-end lag right after the consumed mark commits: wait for it.
    workerText = await until("the worker to count the consumed events", async () => {
      const text = await scrapeWorker();
      return sumOf(parseSamples(text), "metastore_outbox_end_to_end_lag_seconds_count") >= events.length ? text : null;
    });
    // The heartbeat job runs every 5 s; its first run comes at once.
    workerText = await until("the worker to run a heartbeat", async () => {
      const text = await scrapeWorker();
      return sumOf(parseSamples(text), "metastore_worker_heartbeat_timestamp_seconds") > 0 ? text : null;
    });
    const w = parseSamples(workerText);

    const relayed = sumOf(w, "metastore_outbox_relay_lag_seconds_count", { event_type: "file.uploaded" });
    expect(relayed).toBe(1);
    // Every observation of a lag lands in some bucket: +Inf equals the count.
    expect(sumOf(w, "metastore_outbox_relay_lag_seconds_bucket", { event_type: "file.uploaded", le: "+Inf" })).toBe(relayed);
    expect(sumOf(w, "metastore_outbox_end_to_end_lag_seconds_count", { event_type: "file.uploaded" })).toBe(1);
    expect(sumOf(w, "metastore_outbox_end_to_end_lag_seconds_sum", { event_type: "file.uploaded" })).toBeGreaterThan(0);
    expect(sumOf(w, "metastore_outbox_consumer_duration_seconds_count", { consumer: "file-inspector", result: "handled" })).toBe(1);
    expect(sumOf(w, "metastore_outbox_consumer_duration_seconds_count", { result: "error" })).toBe(0);
    for (const step of FILE_UPLOAD_STEPS) {
      expect(sumOf(w, "metastore_saga_step_duration_seconds_count", { saga_type: "file.upload", step, phase: "execute", result: "advanced" }), step).toBe(1);
    }
    expect(sumOf(w, "metastore_sagas_finished_total", { saga_type: "file.upload", status: "completed" })).toBe(1);
    const heartbeatAt = sumOf(w, "metastore_worker_heartbeat_timestamp_seconds");
    expect(Math.abs(heartbeatAt - Date.now() / 1000)).toBeLessThan(60);
    // No id reaches a label: every saga/step label value comes from the code's registries.
    for (const s of w) for (const v of Object.values(s.labels)) expect(v).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);

    webText = await scrapeWeb();
    const web = parseSamples(webText);
    expect(sumOf(web, "metastore_trpc_request_duration_seconds_count", { procedure: "files.startUpload", status_class: "2xx" })).toBe(1);
    expect(sumOf(web, "metastore_trpc_request_duration_seconds_count", { procedure: "files.get", status_class: "4xx" })).toBe(1);
    expect(sumOf(web, "metastore_trpc_request_duration_seconds_count", { procedure: "files.list", status_class: "4xx" })).toBe(1);
    expect(sumOf(web, "metastore_trpc_request_duration_seconds_count", { status_class: "5xx" })).toBe(0);
    expect(sumOf(web, "metastore_http_request_duration_seconds_count", { route: "/api/trpc", status_class: "2xx" })).toBe(1);
    expect(sumOf(web, "metastore_http_request_duration_seconds_count", { route: "/api/trpc", status_class: "4xx" })).toBe(3);
    const procedures = new Set(Object.keys(appRouter._def.procedures));
    for (const s of web.filter((x) => x.labels.procedure !== undefined)) expect(procedures.has(s.labels.procedure!), s.labels.procedure).toBe(true);
    // The web's view of the shared heartbeat (from Redis) and its database-derived backlog.
    expect(Math.abs(sumOf(web, "metastore_worker_last_heartbeat_timestamp_seconds") - Date.now() / 1000)).toBeLessThan(60);
    expect(sumOf(web, "metastore_outbox_events", { status: "published" })).toBe(events.length);
    expect(sumOf(web, "metastore_outbox_events", { status: "pending" })).toBe(0);
    expect(sumOf(web, "metastore_sagas", { status: "completed" })).toBe(1);
  });

  it("both outputs pass promtool check metrics (apart from prom-client's own default-gauge names)", () => {
    expect(webText && workerText, "the first test scraped both endpoints").toBeTruthy();
    for (const [name, text] of [["web", webText], ["worker", workerText]] as const) {
      const { output } = promtool(["check", "metrics"], text);
      const problems = output.split("\n").filter((line) => line.trim() !== "" && !LIBRARY_LINT_PROBLEMS.test(line.trim()));
      expect(problems, `${name}: ${output}`).toEqual([]);
    }
  });

  it("every metric the alert rules and the dashboard use is exported by the web or the worker", async () => {
    // Declared families count too: a labelled counter nothing has incremented yet has no sample.
    const exported = new Set([...exportedNames(webText), ...exportedNames(workerText)]);
    const rules = parseYaml(await readFile(path.join(ROOT, "deploy/prometheus/alerts.yml"), "utf8")) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string; annotations?: Record<string, string> }> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        "MetaStoreOutboxStalledEvents",
        "MetaStoreOutboxDeadEventsRising",
        "MetaStoreOutboxOldestDueEventOld",
        "MetaStoreOutboxRelayLagHigh",
        "MetaStoreSagasFailed",
        "MetaStoreNoWorkerHeartbeat",
      ]),
    );
    for (const rule of alerts) {
      expect(rule.for, `${rule.alert} has a for: duration`).toMatch(/^\d+[smh]$/);
      expect(rule.annotations?.runbook, `${rule.alert} has a runbook line`).toBeTruthy();
      const names = metastoreMetricsIn(rule.expr);
      expect(names.length, `${rule.alert} uses a MetaStore metric`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${rule.alert}: ${name} is not exported`).toBe(true);
    }

    const dashboard = JSON.parse(await readFile(path.join(ROOT, "deploy/grafana/metastore.json"), "utf8")) as {
      panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>;
    };
    const queries = dashboard.panels.filter((p) => p.type !== "row").flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(queries.length).toBeGreaterThan(10);
    for (const q of queries) {
      // ALERTS is the series Prometheus itself writes for each pending or firing rule.
      const names = metastoreMetricsIn(q.expr);
      expect(names.length > 0 || /\bALERTS\b/.test(q.expr), `${q.panel}: ${q.expr} uses no metric`).toBe(true);
      for (const name of names) expect(exported.has(name), `${q.panel}: ${name} is not exported`).toBe(true);
    }

    // The panels' PromQL parses: promtool checks it as recording rules (Grafana's $__rate_interval as 5m).
    const dir = await mkdtemp(path.join(os.tmpdir(), "metastore-dashboard-"));
    try {
      const file = path.join(dir, "dashboard-queries.yml");
      const asRules = { groups: [{ name: "dashboard", rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr.replaceAll("$__rate_interval", "5m") })) }] };
      await writeFile(file, JSON.stringify(asRules));
      const check = promtool(["check", "rules", file]);
      expect(check.status, check.output).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
