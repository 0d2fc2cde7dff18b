/**
 * Next.js instrumentation hook (runs once per server process, before any route): starts the
 * OpenTelemetry SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set. Next.js's own spans (the HTTP
 * request, route rendering) then parent the tRPC procedure spans; without the variable nothing
 * is loaded.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs" || !process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) return;
  const { startTelemetryFromEnv } = await import("./server/platform/telemetry/sdk");
  startTelemetryFromEnv("metastore-web");
}
