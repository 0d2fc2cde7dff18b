import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchWithDeadline } from "../../scripts/deploy-local/fetch-with-deadline";

/**
 * The deadline of the start scripts' and suites' probes: a server that takes the request and
 * never answers (or stops half-way through the body) must not hold the caller past it, even with
 * garbage collections in between (AbortSignal.timeout's weakly held signal can be collected and
 * then never fires; this deadline's timer holds its controller strongly).
 */
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/half") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("half of a body");
      return; // never ends
    }
    if (req.url === "/ok") return res.end("fine");
    // /silent: never answers
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe("fetchWithDeadline", () => {
  it("answers with the body when the server answers in time", async () => {
    const { res, text } = await fetchWithDeadline(`${base}/ok`, {}, 2_000);
    expect(res.status).toBe(200);
    expect(text).toBe("fine");
  });

  it.each(["/silent", "/half"])("rejects with a TimeoutError when %s stalls, garbage collections or not", async (path) => {
    const started = Date.now();
    // Settled into a value at once: the rejection may come while the loop below still runs.
    const outcome = fetchWithDeadline(`${base}${path}`, {}, 300).then(
      () => null,
      (error: unknown) => error,
    );
    // Allocate and drop a lot while the request waits, so collections run meanwhile.
    for (let i = 0; i < 20; i++) {
      void new Array(200_000).fill(i).map(String);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await outcome).toMatchObject({ name: "TimeoutError" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
