/**
 * fetch and read the body, with a deadline that cannot be lost.
 *
 * Node's `AbortSignal.timeout()` holds its signal only weakly (so that the timer never keeps a
 * process alive): once fetch's internals drop the signal and it is garbage collected, the timer is
 * cleared and never fires, and a request whose answer stalls waits for ever. The scale suite's
 * readiness probe hung that way for 15 minutes, with no socket and no timer left in the process.
 * A plain AbortController and an ordinary timer, cleared once the body is read, have no such hole.
 * The abort reason is a `TimeoutError`, as `AbortSignal.timeout()` gives.
 */
export async function fetchWithDeadline(url: string, init: RequestInit, timeoutMs: number): Promise<{ res: Response; text: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")), timeoutMs);
  try {
    const res = await fetch(url, { ...init, signal: controller.signal });
    const text = await res.text();
    return { res, text };
  } finally {
    clearTimeout(timer);
  }
}
