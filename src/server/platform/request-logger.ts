import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "./logger";

/**
 * The logger of the request being served: the API layer puts the request's logger (a child that
 * names its correlation id) in scope around each call, so services built once per process write
 * their warnings as that request, without a logger parameter on every operation and mechanism.
 */
const requestLoggers = new AsyncLocalStorage<Logger>();

/** Run one request's work with its logger in scope (the outermost tRPC middleware does). */
export function withRequestLogger<T>(logger: Logger, fn: () => T): T {
  return requestLoggers.run(logger, fn);
}

/** What the domain services log through: warnings and errors. */
export interface ServiceLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The log of a service built once per process: a line written while a request is served goes to
 * that request's logger (so it carries the request's correlation id, including lines written by
 * after-commit work of the request); outside a request (the worker, timers) to the process's.
 */
export function requestScopedLog(processLogger: Logger): ServiceLog {
  const current = () => requestLoggers.getStore() ?? processLogger;
  return {
    warn: (obj, msg) => current().warn(obj, msg),
    error: (obj, msg) => current().error(obj, msg),
  };
}
