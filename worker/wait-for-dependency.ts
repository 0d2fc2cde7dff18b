import type { Logger } from "~/server/platform/logger";

/**
 * Waits until `probe` answers, retrying with a growing pause (up to `maxDelayMs`) and a log line
 * per failed try, so a worker started while PostgreSQL or Redis is down (a host booting, a failover,
 * a deploy that started the worker first) waits for it and starts once it is back, instead of
 * exiting and relying on a supervisor to retry. Other errors than "cannot reach" are retried the
 * same way: a wrong password is logged on every try, which says what to fix.
 */
export async function waitForDependency(
  name: string,
  probe: () => Promise<unknown>,
  logger: Logger,
  opts: { firstDelayMs?: number; maxDelayMs?: number } = {},
): Promise<void> {
  let delay = opts.firstDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 10_000;
  const since = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await probe();
      if (attempt > 1) logger.info({ dependency: name, attempts: attempt, waitedMs: Date.now() - since }, `${name} is reachable: starting`);
      return;
    } catch (err) {
      logger.warn({ dependency: name, attempt, retryInMs: delay, err: (err as Error).message }, `${name} is not reachable yet: waiting for it`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, maxDelay);
  }
}
