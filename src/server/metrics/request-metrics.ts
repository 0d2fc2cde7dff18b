import { Histogram, Registry } from "prom-client";

/** Seconds; from a cache hit (~1 ms) to a slow upload (10 s). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** "2xx", "4xx", "5xx": the class, never the exact code, keeps the label set small. */
export function statusClass(httpStatus: number): string {
  return `${Math.floor(httpStatus / 100)}xx`;
}

/**
 * How long requests take in this web process, counted where they are handled (this process's own
 * numbers: Prometheus sums the instances). Labels carry only bounded values — a procedure path
 * exists in the router before the middleware sees it, a route is a pattern — never an id or a user.
 */
export function createRequestMetrics() {
  const registry = new Registry();
  const procedure = new Histogram({
    name: "metastore_trpc_request_duration_seconds",
    help: "tRPC procedure calls by procedure and status class (2xx/4xx/5xx), from the outermost middleware",
    labelNames: ["procedure", "status_class"],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const http = new Histogram({
    name: "metastore_http_request_duration_seconds",
    help: "HTTP requests by route pattern and status class, including those refused before any procedure ran (CSRF, body limits, batch size)",
    labelNames: ["route", "status_class"],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    observeProcedure(path: string, httpStatus: number, seconds: number) {
      procedure.observe({ procedure: path, status_class: statusClass(httpStatus) }, seconds);
    },
    /** Wrap an HTTP handler: every response it gives (or failure it throws, as a 5xx) is timed under `route`. */
    timeHttp<A extends unknown[]>(route: string, handler: (...args: A) => Promise<Response>) {
      return async (...args: A): Promise<Response> => {
        const started = performance.now();
        let status = 500;
        try {
          const res = await handler(...args);
          status = res.status;
          return res;
        } finally {
          http.observe({ route, status_class: statusClass(status) }, (performance.now() - started) / 1000);
        }
      };
    },
  };
}

export type RequestMetrics = ReturnType<typeof createRequestMetrics>;
