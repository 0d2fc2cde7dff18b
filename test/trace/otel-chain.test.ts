/**
 * One trace across the process boundary, web → worker, with nothing mocked: this process is the
 * web side (the SDK with an in-memory exporter, the real tRPC HTTP handler); a child process runs
 * the worker's saga runner, relay and consumers with the SDK started from OTEL_EXPORTER_OTLP_ENDPOINT,
 * exporting real OTLP http/protobuf to a receiver in this test. The request arrives with a
 * `traceparent`; every worker span must sit in that trace under the request's procedure span,
 * through the saga's job data and the outbox event's headers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { startTelemetry, type Telemetry } from "~/server/platform/telemetry/sdk";
import { waitFor } from "~test/fixtures/outbox.test-support";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";
import { startOtlpReceiver } from "~test/support/otlp-receiver";

const RECEIVER_PORT = 3461;
const TRACE_ID = "5a1f0e2d3c4b5a69788796a5b4c3d2e1";
const CLIENT_SPAN_ID = "1a2b3c4d5e6f7081";

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry | null;
let app: TestApp;
let owner: SessionUser;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let child: ChildProcess | undefined;

beforeAll(async () => {
  telemetry = startTelemetry({ serviceName: "metastore-web", exporter });
  app = await createTestApp();
  owner = await app.createUser();
  receiver = await startOtlpReceiver(RECEIVER_PORT);
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await receiver?.close();
  await app?.close();
  await telemetry?.shutdown();
});

async function startTracedWorker(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "..", "fixtures", "traced-worker.ts")], {
    env: {
      ...process.env,
      DATABASE_URL: app.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      PREFIX: app.prefix,
      STORAGE_DIR: app.storageDir,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`traced worker exited early (${code})`)));
    proc.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("READY") && resolve());
  });
  return proc;
}

it("a request's traceparent parents the procedure span here and the saga step and consumer spans in the worker", async () => {
  expect(telemetry).not.toBeNull();
  const fd = new FormData();
  fd.append("file", new File(["traced upload\n"], "traced.txt", { type: "text/plain" }));
  const res = await app.http("/api/trpc/files.startUpload", {
    method: "POST",
    body: fd,
    user: owner,
    headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`, "Idempotency-Key": "otel-chain-1" },
  });
  expect(res.status).toBe(200);
  // The correlation id is the trace id: logs and the trace page join the tracing backend's view.
  expect(res.headers.get("X-Request-Id")).toBe(TRACE_ID);
  const { sagaId, fileId } = ((await res.json()) as { result: { data: { json: { sagaId: string; fileId: string } } } }).result.data.json;

  // Web side (in-memory exporter): the procedure span is the client's child, SQL spans are its children.
  const webSpans = exporter.getFinishedSpans();
  const procedure = webSpans.find((s) => s.name === "trpc files.startUpload");
  expect(procedure?.spanContext().traceId).toBe(TRACE_ID);
  expect(parentOf(procedure!)).toBe(CLIENT_SPAN_ID);
  const procedureSpanId = procedure!.spanContext().spanId;
  const sql = webSpans.filter((s) => s.spanContext().traceId === TRACE_ID && s.name.startsWith("pg.query"));
  expect(sql.length).toBeGreaterThan(0);
  // The session lookup runs before the procedure (in the request's context, so under the client's
  // span); the mutation's transaction runs inside the procedure span.
  expect(sql.every((s) => isDescendant(s, procedureSpanId, webSpans) || parentOf(s) === CLIENT_SPAN_ID)).toBe(true);
  const insideProcedure = sql.filter((s) => isDescendant(s, procedureSpanId, webSpans)).map((s) => s.name.split(" ")[0]);
  expect(insideProcedure).toEqual(expect.arrayContaining(["pg.query:BEGIN", "pg.query:COMMIT"]));

  // The saga row keeps the request's context for steps queued later by the sweeper.
  const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: sagaId } });
  expect(saga.traceparent).toBe(`00-${TRACE_ID}-${procedureSpanId}-01`);

  // Worker side, in another process.
  child = await startTracedWorker();
  await waitFor("the upload's event to be consumed", async () => {
    const event = await app.services.db.outboxEvent.findFirst({ where: { aggregateId: fileId }, select: { consumedAt: true, headers: true } });
    return event?.consumedAt && event;
  }, 30_000);
  const event = await app.services.db.outboxEvent.findFirstOrThrow({ where: { aggregateId: fileId } });
  expect(event.headers).toMatchObject({ traceparent: `00-${TRACE_ID}-${procedureSpanId}-01`, correlationId: TRACE_ID });
  // SIGTERM: the worker closes and flushes its batched spans to the receiver.
  const exited = new Promise((resolve) => child!.once("exit", resolve));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);

  expect(new Set(receiver.contentTypes)).toEqual(new Set(["application/x-protobuf"]));
  const workerSpans = receiver.spans.filter((s) => s.service === "metastore-worker");
  const inTrace = workerSpans.filter((s) => s.traceId === TRACE_ID);
  const steps = inTrace.filter((s) => s.name.startsWith("saga.step file.upload."));
  expect(steps.length).toBeGreaterThanOrEqual(3);
  expect(steps.every((s) => s.parentSpanId === procedureSpanId)).toBe(true);
  const consume = inTrace.find((s) => s.name === "outbox.consume file.uploaded");
  expect(consume?.parentSpanId).toBe(procedureSpanId);
  const consumers = inTrace.filter((s) => s.name.startsWith("consumer "));
  expect(consumers.length).toBeGreaterThan(0);
  expect(consumers.every((s) => s.parentSpanId === consume!.spanId)).toBe(true);
  // The worker's SQL is traced too, under its step and consumer spans.
  const stepIds = new Set([...steps, ...consumers, consume!].map((s) => s.spanId));
  expect(inTrace.some((s) => s.name.startsWith("pg.query") && stepIds.has(s.parentSpanId))).toBe(true);
  // Redis commands (BullMQ's among them) are traced as well.
  expect(workerSpans.some((s) => ["evalsha", "eval", "hset", "xadd", "bzpopmin"].includes(s.name))).toBe(true);
  // A relay round is its own trace (it carries many requests' events) and links to each request.
  const round = workerSpans.find((s) => s.name === "outbox.relay round" && s.links.some((l) => l.traceId === TRACE_ID));
  expect(round?.links).toContainEqual({ traceId: TRACE_ID, spanId: procedureSpanId });
});

function parentOf(span: ReadableSpan | undefined): string | undefined {
  return span?.parentSpanContext?.spanId;
}

function isDescendant(span: ReadableSpan, ancestorId: string, all: ReadableSpan[]): boolean {
  let parent = parentOf(span);
  for (let i = 0; parent && i < 20; i++) {
    if (parent === ancestorId) return true;
    const next = all.find((s) => s.spanContext().spanId === parent);
    parent = next ? parentOf(next) : undefined;
  }
  return false;
}
