/**
 * admin.live.watch across web instances, over real SSE, PostgreSQL and Redis: two instances (each
 * its own composition, database pool and session cache, sharing the database and the Redis prefix
 * as a deployment does) with two watchers each read PostgreSQL once per interval between them, and
 * every watcher sees a change; with Redis gone an instance polls by itself and keeps streaming; a
 * revoked session or a lowered role ends the stream within seconds, on another instance.
 */
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "~/server/api/root";
import { createTrpcHttpHandler } from "~/server/api/http-handler";
import { createInnerContext } from "~/server/api/trpc";
import { SESSION_COOKIE, type SessionUser } from "~/server/auth/session";
import { composeServices } from "~/server/composition";
import { inTransaction } from "~/server/platform/db/transaction";
import type { RedisTarget } from "~/server/platform/redis";
import { transformer } from "~/server/platform/transformer";
import { appendEvent } from "~/server/reliability/outbox/append-event";
import type { AppServices } from "~/server/services";
import { createTestApp, type TestApp } from "~test/support/app";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { sseReader } from "~test/support/sse";
import type { LiveSnapshots } from "~/server/reliability/live/live-feeds";

const INTERVAL_MS = 250;
let app: TestApp;
let operator: SessionUser;
const closers: Array<() => Promise<unknown>> = [];

/** One web instance of the deployment: the app's own composition on the test's database and Redis prefix. */
function instance(redisTarget: RedisTarget = app.redisTarget) {
  const composed = composeServices({
    databaseUrl: app.pooledDatabaseUrl,
    poolMax: 5,
    redisTarget,
    redisMaxRetriesPerRequest: 1,
    storageDir: app.storageDir,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    queuePrefix: app.prefix,
    sessions: { secret: "test-secret-test-secret-test-secret-0123", ttlSeconds: 3600, secureCookie: false, cacheTtlMs: 60_000 },
    cache: null,
    config: { maxUploadBytes: 1024, livePollIntervalMs: INTERVAL_MS },
  });
  const { services } = composed;
  services.redis.on("error", () => {});
  closers.push(() => composed.close());
  const live = services.live;
  const handler = createTrpcHttpHandler(services);
  return {
    services,
    live,
    caller: (user: SessionUser) => createCaller(createInnerContext(services, user)),
    async watch(user: SessionUser, topics: string[], signal: AbortSignal) {
      const row = await services.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { id: true, sessionVersion: true } });
      const cookie = `${SESSION_COOKIE}=${await services.sessions.seal(row)}`;
      const input = encodeURIComponent(JSON.stringify(transformer.serialize({ topics })));
      const res = await handler(new Request(`http://localhost/api/trpc/admin.live.watch?input=${input}`, { headers: { cookie }, signal }));
      return sseReader(res);
    },
  };
}
type Instance = ReturnType<typeof instance>;

type LiveEvent = { snapshots: Partial<LiveSnapshots> };
const decode = (data: string) => transformer.deserialize(JSON.parse(data)) as LiveEvent;

/** One commit that adds a dead outbox event (two commits could be seen in between: a pending one). */
const deadEvent = (services: AppServices) =>
  inTransaction(services.db, async (tx) => {
    const event = await appendEvent(tx, { type: "file.tagged", aggregateId: randomUUID(), payload: { fileId: randomUUID(), ownerId: randomUUID(), tags: ["x"] } });
    await tx.outboxEvent.update({ where: { id: event.id }, data: { status: "dead", lastError: "gone", lastFailedAt: new Date() } });
  });

beforeAll(async () => {
  app = await createTestApp();
  operator = await app.createUser({ role: "operator" });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await app?.close();
});

describe("live updates across instances", () => {
  it("reads PostgreSQL once per interval for two instances with two watchers each, and wakes all four on a change", async () => {
    const instances: Instance[] = [instance(), instance()];
    const ac = new AbortController();
    const streams = await Promise.all(instances.flatMap((i) => [i.watch(operator, ["outbox"], ac.signal), i.watch(operator, ["outbox"], ac.signal)]));
    try {
      const firsts = await Promise.all(streams.map((s) => s.nextMeaningful()));
      const dead = decode(firsts[0]!.data).snapshots.outbox!.stats.counts.dead;
      // Let both instances settle into one poller and one follower, then count over a window.
      await new Promise((r) => setTimeout(r, INTERVAL_MS * 4));
      const before = instances.map((i) => ({ ...i.live.polls.outbox.counts }));
      await new Promise((r) => setTimeout(r, INTERVAL_MS * 16));
      const after = instances.map((i) => ({ ...i.live.polls.outbox.counts }));
      const ticks = after.reduce((n, c, k) => n + c.ticks - before[k]!.ticks, 0);
      const reads = after.reduce((n, c, k) => n + c.reads - before[k]!.reads, 0);
      const relayed = after.reduce((n, c, k) => n + c.relayed - before[k]!.relayed, 0);
      // Both instances tick; about half of the ticks (the poller's) read PostgreSQL, the follower's
      // take the relayed reading. Independent pollers would read on every tick.
      expect(ticks).toBeGreaterThanOrEqual(8);
      expect(reads).toBeLessThanOrEqual(Math.ceil(ticks * 0.6) + 1);
      expect(relayed).toBeGreaterThan(0);

      await deadEvent(app.services);
      // A snapshot is several queries, not one transaction: a read racing the commit may see the new
      // newest id before the new count (a change event with the old count); the next read completes it.
      const untilDead = async (stream: (typeof streams)[number]) => {
        for (let i = 0; i < 3; i++) {
          const event = await stream.nextMeaningful();
          if (decode(event!.data).snapshots.outbox?.stats.counts.dead === dead + 1) return event;
        }
        throw new Error("no snapshot with the dead event after three changes");
      };
      const changed = await Promise.all(streams.map(untilDead));
      // One version for everyone: an event id from one instance resumes on the other.
      expect(new Set(changed.map((e) => e!.id)).size).toBe(1);
    } finally {
      ac.abort();
      await Promise.all(streams.map((s) => s.close()));
    }
  });

  it("falls back to polling PostgreSQL itself when its Redis is gone, and keeps streaming", async () => {
    const redis: PrivateRedis = await startPrivateRedis();
    closers.push(() => redis.close());
    const alone = instance({ url: redis.url });
    const ac = new AbortController();
    const stream = await alone.watch(operator, ["outbox"], ac.signal);
    try {
      const first = decode((await stream.nextMeaningful())!.data).snapshots.outbox!.stats.counts.dead;
      await redis.stop();
      const fallbackBefore = alone.live.polls.outbox.counts.fallbackReads;
      await deadEvent(app.services);
      const next = decode((await stream.nextMeaningful())!.data);
      expect(next.snapshots.outbox?.stats.counts.dead).toBe(first + 1);
      expect(alone.live.polls.outbox.counts.fallbackReads).toBeGreaterThan(fallbackBefore);
    } finally {
      ac.abort();
      await stream.close();
    }
  });

  it.each([
    ["signs out everywhere", 401, "UNAUTHORIZED", (on: Instance, viewer: SessionUser) => on.caller(viewer).auth.signOutEverywhere()],
    [
      "loses the viewer role",
      403,
      "FORBIDDEN",
      (on: Instance, viewer: SessionUser) => on.caller(operator).admin.users.changeRole({ id: viewer.id, role: "user", reason: "live stream test: demote the viewer" }),
    ],
  ] as const)("ends a stream on another instance within seconds when its user %s", async (_label, status, code, revoke) => {
    const [watching, acting] = [instance(), instance()];
    const viewer = await app.createUser({ role: "viewer" });
    const ac = new AbortController();
    const stream = await watching.watch(viewer, ["outbox", "sagas"], ac.signal);
    try {
      expect((await stream.nextMeaningful())?.event).toBe("message");
      // The session-channel subscription is up once the hub listens on it (a SUBSCRIBE round trip).
      await new Promise((r) => setTimeout(r, 300));
      const revokedAt = Date.now();
      await revoke(acting, viewer);
      const ended = await stream.nextMeaningful();
      const elapsed = Date.now() - revokedAt;
      expect(ended?.event).toBe("serialized-error");
      const error = (JSON.parse(ended!.data) as { json: { message: string; data: { httpStatus: number; code: string } } }).json;
      expect(error.data).toMatchObject({ httpStatus: status, code });
      expect(error.message).toMatch(/sign in again|live updates are for viewers and operators/);
      // Well inside the periodic recheck (15 s) and the stream's maximum age (5 min): the Redis message ended it.
      expect(elapsed).toBeLessThan(5_000);
      expect(await stream.nextMeaningful()).toBeNull();
    } finally {
      ac.abort();
      await stream.close();
    }
  });
});
