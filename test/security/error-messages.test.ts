/**
 * Hole 6: internal messages (Prisma, pg, file-system paths) never reach clients. A 500 says
 * something generic plus an error id that is in the log line with the details; an unreachable
 * database is a 503 with a message a person can act on; /api/health says only "ok" or "down".
 */
import { rm, writeFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTrpcHttpHandler } from "~/server/api/http-handler";
import { createSessionManager, SESSION_COOKIE, type SessionUser } from "~/server/auth/session";
import { createDb } from "~/server/platform/db/client";
import { checkHealth } from "~/server/platform/health";
import { createTestApp, type TestApp } from "../support/app";
import { capturedLogger } from "../support/captured-logger";
import { parseSamples, sumOf } from "../support/prometheus-text";
import { freePort } from "../support/redis-server";

const { logger, lines: logLines } = capturedLogger();

let app: TestApp;
let alice: SessionUser;
let deadPort: number;

beforeAll(async () => {
  app = await createTestApp({ logger });
  alice = await app.createUser();
  deadPort = await freePort(); // nothing listens here
});
afterAll(() => app.close());

type ErrorBody = { error: { json: { message: string; data: { code: string; errorId: string | null; stack?: unknown } } } };

describe("unexpected errors", () => {
  it("answer 500 with a generic message and an error id that leads to the logged cause", async () => {
    // Storage broken under the app: its folder is now a plain file, so every write fails with ENOTDIR
    // and a message holding the absolute path.
    await rm(app.storageDir, { recursive: true, force: true });
    await writeFile(app.storageDir, "not a folder");
    try {
      const fd = new FormData();
      fd.append("file", new File(["hello"], "hello.txt", { type: "text/plain" }));
      const res = await app.http("/api/trpc/files.upload", { method: "POST", body: fd, user: alice });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain(app.storageDir);
      expect(text).not.toMatch(/ENOTDIR|mkdir|\/tmp\//);
      const body = JSON.parse(text) as ErrorBody;
      const { errorId } = body.error.json.data;
      expect(errorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.error.json.message).toBe(`Something went wrong on our side (error id ${errorId}): try again, and if it keeps failing give the error id to an operator`);
      expect(body.error.json.data.stack).toBeUndefined();
      const line = logLines.find((l) => l.errorId === errorId);
      expect(line).toBeDefined();
      expect(JSON.stringify(line)).toMatch(/ENOTDIR/);
      // Counted as a 5xx of its procedure and of the HTTP route.
      const samples = parseSamples(await app.services.requestMetrics!.registry.metrics());
      expect(sumOf(samples, "metastore_trpc_request_duration_seconds_count", { procedure: "files.upload", status_class: "5xx" })).toBe(1);
      expect(sumOf(samples, "metastore_http_request_duration_seconds_count", { route: "/api/trpc", status_class: "5xx" })).toBe(1);
    } finally {
      await rm(app.storageDir, { force: true });
    }
  });
});

describe("database unreachable", () => {
  it("answers 503 with an actionable message, not Prisma's text, both in the context and in a procedure", async () => {
    const deadDb = createDb(`postgresql://postgres@127.0.0.1:${deadPort}/metastore`);
    const sessions = createSessionManager(deadDb, { secret: "dead-db-secret-dead-db-secret-dead-db-0", ttlSeconds: 60, secureCookie: false });
    const handler = createTrpcHttpHandler({ ...app.services, db: deadDb, sessions });
    const http5xx = async () =>
      sumOf(parseSamples(await app.services.requestMetrics!.registry.metrics()), "metastore_http_request_duration_seconds_count", { route: "/api/trpc", status_class: "5xx" });
    const http5xxBefore = await http5xx();
    try {
      const sealed = await sessions.seal({ id: alice.id, sessionVersion: 0 });
      // Signed in: the session lookup (in the request context) needs the database.
      const list = await handler(new Request("http://localhost/api/trpc/files.list", { headers: { cookie: `${SESSION_COOKIE}=${sealed}` } }));
      // Signed out: the procedure itself needs it.
      const signIn = await handler(
        new Request("http://localhost/api/trpc/auth.signIn", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ json: { email: "someone@test.local", password: "pw" } }),
        }),
      );
      for (const res of [list, signIn]) {
        expect(res.status).toBe(503);
        const text = await res.text();
        expect(text).not.toMatch(/prisma|P1001|127\.0\.0\.1|ECONNREFUSED|invocation/i);
        expect((JSON.parse(text) as ErrorBody).error.json.message).toBe("MetaStore cannot reach its database right now: try again in a minute");
      }
      // Both are 5xx of the HTTP route; only auth.signIn reached a procedure (files.list failed in
      // the request context, at the session lookup), which is why the route has its own histogram.
      expect((await http5xx()) - http5xxBefore).toBe(2);
      const samples = parseSamples(await app.services.requestMetrics!.registry.metrics());
      expect(sumOf(samples, "metastore_trpc_request_duration_seconds_count", { procedure: "auth.signIn", status_class: "5xx" })).toBe(1);
      expect(sumOf(samples, "metastore_trpc_request_duration_seconds_count", { procedure: "files.list" })).toBe(0);
    } finally {
      await deadDb.$disconnect();
    }
  });
});

describe("GET /api/health", () => {
  it("says which dependency is down, without its error text (which goes to the log)", async () => {
    const deadDb = createDb(`postgresql://postgres@127.0.0.1:${deadPort}/metastore`);
    const deadRedis = new Redis({ host: "127.0.0.1", port: deadPort, maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    deadRedis.on("error", () => {});
    try {
      const res = await checkHealth({ db: deadDb, redis: deadRedis, logger });
      expect(res.httpStatus).toBe(503);
      expect(res.report).toEqual({ status: "degraded", postgres: "down", redis: "down", redisEvictionPolicy: null, warnings: [] });
      expect(logLines).toContainEqual(expect.objectContaining({ dependency: "postgres", msg: "health check: dependency down" }));
      const ok = await checkHealth(app.services);
      expect(ok.httpStatus).toBe(200);
      expect(ok.report).toMatchObject({ status: "ok", postgres: "ok", redis: "ok" });
    } finally {
      deadRedis.disconnect();
      await deadDb.$disconnect();
    }
  });
});
