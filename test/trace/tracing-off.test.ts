/**
 * Without OTEL_EXPORTER_OTLP_ENDPOINT no SDK is started: no provider, no propagator, no driver
 * patched, and nothing trace-related is written into events or jobs (zero overhead).
 */
import { createRequire } from "node:module";
import { trace } from "@opentelemetry/api";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTelemetryFromEnv } from "~/server/platform/telemetry/sdk";
import { currentTraceCarrier, tracingEnabled } from "~/server/platform/telemetry/tracing";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app?.close());

it("starts nothing and writes no trace context when OTEL_EXPORTER_OTLP_ENDPOINT is unset", async () => {
  const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  try {
    expect(startTelemetryFromEnv("metastore-web")).toBeNull();
  } finally {
    if (saved !== undefined) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
  }
  expect(tracingEnabled()).toBe(false);
  expect(currentTraceCarrier()).toEqual({});
  // The API's global provider is still the no-op proxy: a span made through it records nothing.
  const span = trace.getTracer("check").startSpan("noop");
  expect(span.isRecording()).toBe(false);
  span.end();
  // The drivers are untouched.
  const pg = createRequire(import.meta.url)("pg") as { Client: { prototype: { query: { __wrapped?: boolean } } } };
  expect(pg.Client.prototype.query.__wrapped).toBeUndefined();

  const user = await app.createUser();
  const res = await app.http("/api/trpc/files.upload", {
    method: "POST",
    body: (() => {
      const fd = new FormData();
      fd.append("file", new File(["plain"], "plain.txt", { type: "text/plain" }));
      return fd;
    })(),
    user,
    headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "Idempotency-Key": "off-1" },
  });
  expect(res.status).toBe(200);
  const event = await app.services.db.outboxEvent.findFirstOrThrow({ where: { eventType: "file.uploaded" } });
  // The correlation id still comes from the traceparent, but no trace context is forwarded.
  expect(event.headers).toEqual({ correlationId: "0af7651916cd43dd8448eb211c80319c", idempotencyKey: "off-1" });
});
