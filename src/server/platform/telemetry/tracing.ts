/**
 * The tracing helpers every process uses (tRPC middleware, relay, consumers, saga runner). They
 * go through @opentelemetry/api only; the SDK is started (sdk.ts) only when an OTLP endpoint is
 * configured. While it is not, `tracingEnabled()` is false and every helper returns at once:
 * no span objects, no context switches, no header parsing (tracing off costs nothing).
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from "@opentelemetry/api";

export const TRACER_NAME = "metastore";

let enabled = false;

/** Set by the SDK bootstrap (sdk.ts) once a tracer provider and propagator are registered. */
export function setTracingEnabled(on: boolean) {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

/** W3C trace context of the active span, as carried in event headers and job data. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** The active span's context as `traceparent`/`tracestate`, or {} when tracing is off or no span is active. */
export function currentTraceCarrier(): TraceCarrier {
  if (!enabled) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent, ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}) } : {};
}

/** The context a carrier describes (a remote parent), or the root context when it carries none. */
export function contextFromCarrier(carrier: TraceCarrier | null | undefined): Context {
  if (!enabled || !carrier?.traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** A span link to the span a carrier describes (a relay round links to the requests of its events). */
export function linkFromCarrier(carrier: TraceCarrier | null | undefined): Link | null {
  if (!enabled || !carrier?.traceparent) return null;
  const spanContext = trace.getSpanContext(contextFromCarrier(carrier));
  return spanContext ? { context: spanContext } : null;
}

/** The trace id of the active span, when tracing is on and one is recording. */
export function activeTraceId(): string | undefined {
  if (!enabled) return undefined;
  const spanContext = trace.getSpan(context.active())?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKind;
  /** The parent (e.g. extracted from an event's headers); default: the active context. */
  parent?: Context;
  links?: Link[];
}

/**
 * Run `fn` inside a span named `name` (active for everything `fn` awaits), ended when it settles;
 * a thrown error marks the span failed and is rethrown. With tracing off `fn` just runs.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span | null) => Promise<T>): Promise<T> {
  if (!enabled) return fn(null);
  const tracer = trace.getTracer(TRACER_NAME);
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(name, { attributes: options.attributes, kind: options.kind ?? SpanKind.INTERNAL, links: options.links }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Mark a span failed without an exception (e.g. a tRPC result that is an error). */
export function markSpanError(span: Span | null, message: string) {
  span?.setStatus({ code: SpanStatusCode.ERROR, message });
}

export { SpanKind };
