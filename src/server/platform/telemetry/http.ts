import { context, propagation, trace } from "@opentelemetry/api";
import { tracingEnabled } from "./tracing";

/**
 * Run `fn` under the caller's trace context. Under `next start` Next.js has already opened a span
 * for the request (from its `traceparent`), which stays the parent; a handler called without one
 * (HTTP-level tests, another server embedding the handler) takes the `traceparent` header itself.
 */
export function withIncomingTraceContext<T>(headers: Headers, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled() || trace.getSpan(context.active())) return fn();
  const carrier: Record<string, string> = {};
  for (const name of ["traceparent", "tracestate"]) {
    const value = headers.get(name);
    if (value) carrier[name] = value;
  }
  if (!carrier.traceparent) return fn();
  return context.with(propagation.extract(context.active(), carrier), fn);
}
