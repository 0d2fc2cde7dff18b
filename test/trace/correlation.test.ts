/**
 * One correlation id from the HTTP edge to the last consumer, against real PostgreSQL, Redis and
 * BullMQ: a keyed upload over the real tRPC HTTP handler, then the saga runner, the relay and the
 * consumers of the worker in this process. The id must be in the response header, the idempotency
 * record, the saga and every step, every event (column and headers), every job's data and the log
 * lines of both sides; secrets and file contents must not be in any log line. Then admin.trace.get
 * must return the chain in time order. Jobs queued without the new fields must still run.
 */
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { SESSION_COOKIE } from "~/server/auth/session";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import { appSagaRegistry } from "~/server/app-sagas";
import { stepJobId } from "~/server/reliability/saga/step-queue";
import { QueueName } from "~/server/contracts/queues";
import { startOutboxConsumers } from "../../worker/jobs/outbox-consumers";
import { defaultConsumers } from "../../worker/jobs/consumer-registry";
import { startOutboxRelay } from "../../worker/jobs/outbox-relay";
import { startSagaRunner } from "../../worker/jobs/saga-runner";
import { waitFor } from "~test/fixtures/outbox.test-support";
import { createTestApp, type TestApp } from "~test/support/app";
import { capturedLogger } from "~test/support/captured-logger";

const SECRET_CONTENT = "top-secret-file-body-4f1c9e";
const web = capturedLogger("debug");
const worker = capturedLogger("debug");
let app: TestApp;
let owner: SessionUser;
let operator: SessionUser;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  app = await createTestApp({ logger: web.logger });
  owner = await app.createUser({ password: "owner-password-xyz" });
  operator = await app.createUser({ role: "operator" });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await app?.close();
});

function uploadBody(content: string, name: string) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  return fd;
}

async function upload(headers: Record<string, string>, content = SECRET_CONTENT) {
  const res = await app.http("/api/trpc/files.startUpload", { method: "POST", body: uploadBody(content, "notes.txt"), user: owner, headers });
  const body = (await res.json()) as { result?: { data: { json: { sagaId: string; fileId: string } } } };
  return { res, started: body.result?.data.json };
}

describe("the correlation id at the edge", () => {
  it("takes a valid X-Request-Id, the trace id of a traceparent, and replaces a malformed one", async () => {
    const mine = await app.http("/api/trpc/files.list", { user: owner, headers: { "X-Request-Id": "client-req.42" } });
    expect(mine.headers.get("X-Request-Id")).toBe("client-req.42");
    const traced = await app.http("/api/trpc/files.list", {
      user: owner,
      headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "X-Request-Id": "ignored" },
    });
    expect(traced.headers.get("X-Request-Id")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    const bad = await app.http("/api/trpc/files.list", { user: owner, headers: { "X-Request-Id": "<script>alert(1)</script>" } });
    expect(bad.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    const none = await app.http("/api/trpc/files.list", { user: owner });
    expect(none.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    // A refused request (not signed in) gets one too.
    const refused = await app.http("/api/trpc/files.list", {});
    expect(refused.status).toBe(401);
    expect(refused.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("a keyed upload, request → idempotency record → saga → events → jobs → consumers", () => {
  const correlationId = "upload-trace-7d2a";
  let started: { sagaId: string; fileId: string };

  it("carries the id into the record, the saga, its first job and the response", async () => {
    const { res, started: s } = await upload({ "X-Request-Id": correlationId, "Idempotency-Key": "trace-upload-1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Request-Id")).toBe(correlationId);
    started = s!;
    const record = await app.services.db.idempotencyKey.findFirstOrThrow({ where: { key: "trace-upload-1" } });
    expect(record).toMatchObject({ correlationId, state: "completed" });
    const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: started.sagaId } });
    expect(saga.correlationId).toBe(correlationId);
    // No worker yet: the first step's job waits in Redis, with the id in its data.
    const steps = new Queue(QueueName.sagaStep, { connection: app.bullConnection, prefix: app.prefix });
    closers.push(() => steps.close());
    const job = await steps.getJob(stepJobId({ sagaId: started.sagaId, sagaType: saga.type, phase: "execute", stepIndex: 0, generation: 0 }));
    expect(job?.data).toMatchObject({ sagaId: started.sagaId, correlationId });
  });

  it("every saga step and every event of the saga carries it, and so does each event's job", async () => {
    const runner = await startSagaRunner({
      connection: app.bullConnection,
      prefix: app.prefix,
      db: app.services.db,
      databaseUrl: app.databaseUrl,
      registry: appSagaRegistry({ db: app.services.db, storage: app.services.storage }),
      logger: worker.logger,
      concurrency: 2,
    });
    closers.push(runner.close);
    await waitFor("the upload saga to finish", async () => {
      const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: started.sagaId } });
      return saga.status === "completed" && saga;
    });
    const stepRows = await app.services.db.sagaStepLog.findMany({ where: { sagaId: started.sagaId } });
    expect(stepRows.length).toBeGreaterThan(1);
    expect(stepRows.map((s) => s.correlationId)).toEqual(stepRows.map(() => correlationId));
    const events = await app.services.db.outboxEvent.findMany({ where: { aggregateId: started.fileId } });
    expect(events.map((e) => e.eventType)).toEqual(["file.uploaded"]);
    expect(events[0]).toMatchObject({ correlationId, headers: { correlationId, idempotencyKey: "trace-upload-1" } });

    // The relay publishes; before any consumer runs, the job's data carries the id.
    const relay = await startOutboxRelay({
      db: app.services.db,
      databaseUrl: app.databaseUrl,
      connection: app.bullConnection,
      prefix: app.prefix,
      logger: worker.logger,
      options: { pollIntervalMs: 200, batchSize: 50, leaseMs: 5000, consumerJob: { attempts: 3, backoffMs: 20 } },
    });
    closers.push(relay.close);
    const outbox = new Queue(QueueName.outboxEvents, { connection: app.bullConnection, prefix: app.prefix });
    closers.push(() => outbox.close());
    const job = await waitFor("the event's job", () => outbox.getJob(events[0]!.id));
    expect(job.data).toMatchObject({ id: events[0]!.id, headers: { correlationId } });
  });

  it("the consumers' log lines name it, and no log line holds a secret or the file's content", async () => {
    const consumers = await startOutboxConsumers({
      db: app.services.db,
      connection: app.bullConnection,
      prefix: app.prefix,
      logger: worker.logger,
      storage: app.services.storage,
      consumers: defaultConsumers,
      options: { concurrency: 4 },
    });
    closers.push(consumers.close);
    const event = await app.services.db.outboxEvent.findFirstOrThrow({ where: { aggregateId: started.fileId } });
    await waitFor("the event to be consumed", async () => (await app.services.db.outboxEvent.findUniqueOrThrow({ where: { id: event.id } })).consumedAt);
    // Consumer runs are the delivery-attempt history, written with each run's outcome (a success in its inbox row).
    await waitFor("the consumer runs", async () => (await app.services.db.inboxEntry.count({ where: { eventId: event.id, startedAt: { not: null } } })) > 0);

    const consumerLine = worker.lines.find((l) => l.msg === "outbox event handled" && l.eventId === event.id);
    expect(consumerLine).toMatchObject({ correlationId });
    const stepLines = worker.lines.filter((l) => l.msg === "saga step done" && l.sagaId === started.sagaId);
    expect(stepLines.length).toBeGreaterThan(1);
    expect(stepLines.every((l) => l.correlationId === correlationId)).toBe(true);
    const webLine = web.lines.find((l) => l.msg === "tRPC call" && l.path === "files.startUpload" && l.correlationId === correlationId);
    expect(webLine).toMatchObject({ status: 200, type: "mutation" });

    const everything = JSON.stringify([...web.lines, ...worker.lines]);
    expect(everything).not.toContain(SECRET_CONTENT);
    expect(everything).not.toContain("owner-password-xyz");
    expect(everything).not.toContain(SESSION_COOKIE + "=");
    expect(everything).not.toMatch(/Fe26\.2\*/); // a sealed session (iron-session) never reaches a log
  });

  it("admin.trace.get returns the whole chain in time order, from any of its parts", async () => {
    const trace = await app.caller(operator).admin.trace.get({ kind: "correlation", id: correlationId });
    const kinds = trace.entries.map((e) => e.kind);
    expect(new Set(kinds)).toEqual(new Set(["request", "idempotency", "saga", "saga-step", "event", "consumer-run"]));
    const times = trace.entries.map((e) => e.startedAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The request first (it claimed the key before anything else happened), then its record.
    expect(kinds.slice(0, 2)).toEqual(["request", "idempotency"]);
    const request = trace.entries[0]!;
    expect(request).toMatchObject({ label: "files.startUpload", status: "200" });
    expect(request.facts).toEqual(expect.arrayContaining([["user", owner.email], ["Idempotency-Key", "trace-upload-1"]]));
    const event = trace.entries.find((e) => e.kind === "event")!;
    expect(event.facts.find(([n]) => n === "relay delay")?.[1]).toMatch(/^\d+ ms$/);
    const runs = trace.entries.filter((e) => e.kind === "consumer-run");
    expect(runs.every((r) => r.parentId === event.id && r.status === "handled" && r.durationMs !== null)).toBe(true);
    const steps = trace.entries.filter((e) => e.kind === "saga-step");
    expect(steps.every((s) => s.parentId === started.sagaId && s.status === "succeeded")).toBe(true);

    const record = await app.services.db.idempotencyKey.findFirstOrThrow({ where: { key: "trace-upload-1" } });
    for (const anchor of [
      { kind: "event", id: event.id },
      { kind: "saga", id: started.sagaId },
      { kind: "idempotency", id: record.id },
      { kind: "file", id: started.fileId },
    ] as const) {
      const other = await app.caller(operator).admin.trace.get(anchor);
      expect(other.correlationId).toBe(correlationId);
      expect(other.entries.map((e) => e.id)).toEqual(trace.entries.map((e) => e.id));
    }
  });

  it("refuses a malformed anchor with a 400 and an unknown one with a 404; users may not read traces", async () => {
    await expect(app.caller(operator).admin.trace.get({ kind: "event", id: "not-a-uuid" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(app.caller(operator).admin.trace.get({ kind: "correlation", id: "has spaces" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(app.caller(operator).admin.trace.get({ kind: "saga", id: "00000000-0000-7000-8000-000000000000" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(app.caller(owner).admin.trace.get({ kind: "correlation", id: correlationId })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("jobs queued without the new fields (before this change) still run", async () => {
    // An event written with no headers at all, as before: its job has no correlation id.
    const legacy = await app.services.db.$transaction((tx) =>
      appendEvent(tx, { type: "file.tagged", aggregateId: started.fileId, payload: { fileId: started.fileId, ownerId: owner.id, tags: ["old"] } }),
    );
    await waitFor("the legacy event to be consumed", async () => (await app.services.db.outboxEvent.findUniqueOrThrow({ where: { id: legacy.id } })).consumedAt);
    // A saga step job in the old shape (no correlationId, no traceparent) on the step queue.
    const sagaId = "0190a000-0000-7000-8000-00000000beef";
    await app.services.db.sagaInstance.create({
      data: { id: sagaId, type: "file.upload", status: "running", input: {}, context: { generation: 0, outputs: {} } },
    });
    const steps = new Queue(QueueName.sagaStep, { connection: app.bullConnection, prefix: app.prefix });
    closers.push(() => steps.close());
    const old = { sagaId, sagaType: "file.upload", phase: "execute", stepIndex: 0, generation: 0 };
    await steps.add("legacy", old, { jobId: stepJobId(old as never), attempts: 1 });
    // Its input is not a valid upload, so the saga fails and compensates: what matters is that the
    // job was parsed and run (a schema refusing it would leave the saga running forever).
    await waitFor("the legacy step to run", async () => {
      const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: sagaId } });
      return saga.status !== "running" && saga;
    });
  });
});
