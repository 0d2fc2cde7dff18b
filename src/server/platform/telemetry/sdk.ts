/**
 * The OpenTelemetry SDK of one process (web: src/instrumentation.ts; worker: worker/index.ts).
 *
 * Started only when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a caller hands in its own exporter):
 * otherwise nothing is registered, @opentelemetry/api stays its no-op self and tracing.ts's
 * helpers return at once. Spans go out by OTLP over http/protobuf to `<endpoint>/v1/traces`
 * (Jaeger, Tempo, Honeycomb, an OpenTelemetry Collector all accept it); the exporter reads the
 * standard OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself.
 */
import { createRequire } from "node:module";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace";
import { setTracingEnabled } from "./tracing";

export interface TelemetryOptions {
  /** service.name of every span of this process (metastore-web, metastore-worker). */
  serviceName: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT; unset (and no exporter given): no SDK at all. */
  otlpEndpoint?: string;
  /** Export here instead of OTLP, span by span (an in-memory exporter in a test process). */
  exporter?: SpanExporter;
}

export interface Telemetry {
  provider: TracerProvider;
  /** Export what is buffered (a worker calls it before it exits). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const globalForTelemetry = globalThis as unknown as { metastoreTelemetry?: Telemetry };

export function startTelemetry(options: TelemetryOptions): Telemetry | null {
  if (globalForTelemetry.metastoreTelemetry) return globalForTelemetry.metastoreTelemetry;
  if (!options.exporter && !options.otlpEndpoint) return null;
  const processor = options.exporter
    ? new SimpleSpanProcessor({ exporter: options.exporter })
    : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${options.otlpEndpoint!.replace(/\/+$/, "")}/v1/traces` }) });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Every SQL statement (Prisma goes through the pg driver adapter); statements, never values.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
      // Cache and BullMQ commands; arguments are left out (cache values, job payloads).
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  // The drivers patch their prototypes when required through the hook registered above. A module
  // already loaded (ESM imports are hoisted above this call) is patched in place by requiring it
  // again, so the order of imports in the entry point does not matter.
  const require = createRequire(import.meta.url);
  require("pg");
  require("ioredis");
  setTracingEnabled(true);
  const telemetry: Telemetry = {
    provider,
    flush: () => provider.forceFlush(),
    async shutdown() {
      setTracingEnabled(false);
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
      delete globalForTelemetry.metastoreTelemetry;
    },
  };
  globalForTelemetry.metastoreTelemetry = telemetry;
  return telemetry;
}

/** startTelemetry from the environment: a no-op (null) unless OTEL_EXPORTER_OTLP_ENDPOINT is set. */
export function startTelemetryFromEnv(serviceName: string): Telemetry | null {
  const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return startTelemetry({ serviceName: process.env.OTEL_SERVICE_NAME?.trim() || serviceName, otlpEndpoint: otlpEndpoint || undefined });
}
