/**
 * Which database failures count as "unreachable" (answered 503 + retry hint, see trpc.ts), checked
 * against the errors a real PostgreSQL outage produces: a server that refuses connections (a closed
 * port), connections terminated under a query or inside a transaction (pg_terminate_backend, what
 * a restart or failover does to them), and a pool with no connection free in time. Errors that say
 * something about the request (a constraint, bad SQL, a transaction that ran out of time) are not.
 * Then the same through the tRPC handler: a request whose connection is terminated is a 503.
 */
import net from "node:net";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createDb, type Db } from "./client";
import { isDatabaseUnreachable } from "./unreachable";
import { createTestApp, type TestApp } from "~test/support/app";

let app: TestApp;
let admin: pg.Client;
let closedPort: number;

beforeAll(async () => {
  app = await createTestApp();
  admin = new pg.Client({ connectionString: app.databaseUrl });
  await admin.connect();
  // A port nothing listens on: bind one, note it, close it.
  closedPort = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
});
afterAll(async () => {
  await admin.end();
  await app.close();
});

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the database call to fail");
}

/** Terminate every backend of this test's database except the admin's own (what a restart does). */
async function terminateOthers(where = "true") {
  const { rowCount } = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${where}`);
  return rowCount ?? 0;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const someoneRuns = (query: string) => async () =>
  (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE $1 AND state = 'active'", [`%${query}%`])).rowCount! > 0;

describe("a server that refuses connections", () => {
  let dead: Db;
  beforeAll(() => void (dead = createDb(`postgresql://postgres@127.0.0.1:${closedPort}/metastore`, { max: 2, connectionTimeoutMs: 2000 })));
  afterAll(() => dead.$disconnect());

  it("is unreachable for a raw query, a model query and an interactive transaction", async () => {
    for (const work of [() => dead.$queryRaw`SELECT 1`, () => dead.user.findFirst(), () => dead.$transaction((tx) => tx.$queryRaw`SELECT 1`)]) {
      expect(isDatabaseUnreachable(await failureOf(work))).toBe(true);
    }
  });
});

describe("connections terminated by the server (restart, failover, pg_terminate_backend)", () => {
  let db: Db;
  beforeAll(() => void (db = createDb(app.databaseUrl, { max: 2 })));
  afterAll(() => db.$disconnect());

  it("under a raw query (57P01 inside Prisma's P2010) and under a model query", async () => {
    const raw = failureOf(() => db.$queryRaw`SELECT pg_sleep(10), 'raw-victim'`);
    await waitUntil("the raw query runs", someoneRuns("raw-victim"));
    expect(await terminateOthers("query LIKE '%raw-victim%'")).toBe(1);
    expect(isDatabaseUnreachable(await raw)).toBe(true);

    // A model query is too quick to catch running: hold the table (from another session: the
    // admin's pg_stat_activity must not be a snapshot of a transaction) so it waits, then terminate it.
    const holder = new pg.Client({ connectionString: app.databaseUrl });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE app_user IN ACCESS EXCLUSIVE MODE");
      const model = failureOf(() => db.user.findMany({ where: { email: "model-victim" } }));
      await waitUntil("the model query waits", async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rowCount! > 0);
      expect(await terminateOthers("wait_event_type = 'Lock'")).toBe(1);
      expect(isDatabaseUnreachable(await model)).toBe(true);
    } finally {
      await holder.end();
    }
  });

  it("between two statements of an interactive transaction", async () => {
    let firstDone!: () => void;
    const afterFirst = new Promise<void>((resolve) => (firstDone = resolve));
    let terminated!: () => void;
    const proceed = new Promise<void>((resolve) => (terminated = resolve));
    const tx = failureOf(() =>
      db.$transaction(async (t) => {
        await t.$queryRaw`SELECT 'tx-victim'`;
        firstDone();
        await proceed;
        await t.$queryRaw`SELECT 2`;
      }),
    );
    await afterFirst;
    expect(await terminateOthers("query LIKE '%tx-victim%'")).toBe(1);
    await new Promise((r) => setTimeout(r, 100)); // the FATAL message reaches the idle client
    terminated();
    expect(isDatabaseUnreachable(await tx)).toBe(true);
  });
});

describe("no pooled connection free in time", () => {
  it("is unreachable for a query (pg-pool's connect timeout) and a transaction (Prisma's maxWait)", async () => {
    const db = createDb(app.databaseUrl, { max: 1, connectionTimeoutMs: 300 });
    // Open the pool's one connection first, retrying: on a loaded machine a new PostgreSQL
    // connection can take longer than the 300 ms, and then the holder below would fail to connect
    // instead of holding. What is under test is a pool with its connection in use, not a slow connect.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await db.$queryRaw`SELECT 1`;
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
      }
    }
    let releaseHolder!: () => void;
    const held = new Promise<void>((resolve) => (releaseHolder = resolve));
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    const holder = db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1`;
      holding();
      await held;
    }, { timeout: 10_000 });
    try {
      await isHolding;
      expect(isDatabaseUnreachable(await failureOf(() => db.$queryRaw`SELECT 1`))).toBe(true);
      expect(isDatabaseUnreachable(await failureOf(() => db.$transaction((tx) => tx.$queryRaw`SELECT 1`, { maxWait: 200 })))).toBe(true);
    } finally {
      releaseHolder();
      await holder;
      await db.$disconnect();
    }
  });
});

describe("failures that are about the request, not the server", () => {
  it("stay unexpected errors: a unique violation, bad SQL, a transaction that outlived its timeout", async () => {
    const { db } = app.services;
    const user = await app.createUser();
    const duplicate = await failureOf(() => db.user.create({ data: { email: user.email, name: "again", passwordHash: "x" } }));
    const badSql = await failureOf(() => db.$queryRawUnsafe("SELECT FROM nowhere_at_all"));
    const expired = await failureOf(() =>
      db.$transaction(async (tx) => {
        await new Promise((r) => setTimeout(r, 300));
        await tx.$queryRaw`SELECT 1`;
      }, { timeout: 100 }),
    );
    for (const error of [duplicate, badSql, expired]) expect(isDatabaseUnreachable(error)).toBe(false);
  });
});

describe("through the tRPC handler", () => {
  let user: SessionUser;
  let locker: pg.Client;
  beforeAll(async () => {
    user = await app.createUser();
    locker = new pg.Client({ connectionString: app.databaseUrl });
    await locker.connect();
  });
  afterAll(() => locker.end());

  function upload(key: string | null) {
    const body = new FormData();
    body.append("file", new File(["terminated"], "terminated.txt", { type: "text/plain" }));
    return app.http("/api/trpc/files.upload", { method: "POST", body, user, headers: key ? { "Idempotency-Key": key } : {} });
  }

  it.each([["without", null], ["with", randomUUID()]] as const)(
    "a mutation (%s an Idempotency-Key) whose connection is terminated answers 503 SERVICE_UNAVAILABLE telling the client to retry, and the retry succeeds",
    async (_, key) => {
      // Hold the user's row so the upload waits inside its transaction, then cut its connection.
      await locker.query("BEGIN");
      await locker.query("SELECT id FROM app_user WHERE id = $1 FOR UPDATE", [user.id]);
      const pending = upload(key);
      try {
        await waitUntil("the upload waits on the row", async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rowCount! > 0);
        expect(await terminateOthers("wait_event_type = 'Lock'")).toBe(1);
      } finally {
        await locker.query("COMMIT");
      }
      const res = await pending;
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5"); // every 503 says when to come back
      expect(text).not.toMatch(/prisma|57P01|terminat|invocation/i);
      const body = JSON.parse(text) as { error: { json: { message: string; data: { code: string } } } };
      expect(body.error.json.data.code).toBe("SERVICE_UNAVAILABLE");
      expect(body.error.json.message).toMatch(/try again/);

      const retry = await upload(key);
      expect(retry.status).toBe(200);
      expect(retry.headers.get("idempotent-replayed")).toBeNull();
    },
  );
});
