/**
 * Streamed responses (an SSE subscription, a jsonl batch) send their headers before their results
 * are known, so `Retry-After` can only go on a 503 decided before the first byte: the session
 * lookup in createContext finding PostgreSQL unreachable. Injected for real: the lookup waits on a
 * table lock, and its backend is terminated (57P01, what a restart does to it).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { transformer } from "~/server/platform/transformer";
import { createTestApp, type TestApp } from "~test/support/app";
import { sseReader } from "~test/support/sse";

let app: TestApp;
let admin: pg.Client;
let locker: pg.Client;
let viewer: SessionUser;

beforeAll(async () => {
  app = await createTestApp();
  viewer = await app.createUser({ role: "viewer" });
  admin = new pg.Client({ connectionString: app.databaseUrl });
  locker = new pg.Client({ connectionString: app.databaseUrl });
  await Promise.all([admin.connect(), locker.connect()]);
  // The test client seals the viewer's cookie once, from the database: before the lock, not under it.
  expect((await app.http("/api/trpc/admin.fleet.list", { user: viewer })).status).toBe(200);
});
afterAll(async () => {
  await Promise.all([admin?.end(), locker?.end()]);
  await app?.close();
});

const watchUrl = (input: unknown) => `/api/trpc/admin.live.watch?input=${encodeURIComponent(JSON.stringify(transformer.serialize(input)))}`;
const batchUrl = `/api/trpc/admin.fleet.list,admin.outbox.stats?batch=1&input=${encodeURIComponent(JSON.stringify({}))}`;

/**
 * Send the request while its session lookup waits on a lock, and terminate every backend waiting
 * on that lock until the request has answered (another reader of app_user, such as an earlier
 * stream's session watch, may be waiting there too).
 */
async function withSessionLookupTerminated(send: () => Promise<Response>): Promise<Response> {
  await locker.query("BEGIN");
  await locker.query("LOCK TABLE app_user IN ACCESS EXCLUSIVE MODE");
  let answered = false;
  const pending = send().finally(() => (answered = true));
  try {
    const deadline = Date.now() + 10_000;
    while (!answered) {
      if (Date.now() > deadline) throw new Error("the request did not answer while its session lookup was being terminated");
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), $1) AND wait_event_type = 'Lock'",
        [(locker as unknown as { processID: number }).processID],
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await locker.query("ROLLBACK");
  }
  return pending;
}

describe("Retry-After on streamed responses", () => {
  it("an SSE subscription whose session lookup finds the database unreachable says when to come back", async () => {
    const res = await withSessionLookupTerminated(() => app.http(watchUrl({ topics: ["outbox"] }), { user: viewer }));
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    expect(res.headers.get("retry-after")).toBe("5");
    const stream = sseReader(res);
    let event = await stream.next();
    while (event && event.event !== "serialized-error") event = await stream.next();
    expect(event?.data).toMatch(/SERVICE_UNAVAILABLE/);
    await stream.close();

    // The database back: the same subscription streams, with no retry hint.
    const ac = new AbortController();
    const ok = await app.http(watchUrl({ topics: ["outbox"] }), { user: viewer, signal: ac.signal });
    expect(ok.headers.get("retry-after")).toBeNull();
    ac.abort();
    await ok.body?.cancel().catch(() => {});
  });

  it("a jsonl batch stream whose context fails the same way says it too", async () => {
    const send = () => app.http(batchUrl, { user: viewer, headers: { "trpc-accept": "application/jsonl" } });
    const res = await withSessionLookupTerminated(send);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.text()).toMatch(/SERVICE_UNAVAILABLE/);

    const ok = await send();
    expect(ok.headers.get("retry-after")).toBeNull();
    expect(await ok.text()).not.toMatch(/SERVICE_UNAVAILABLE/);
  });
});
