/**
 * The session cache across two app instances (two service sets, two pools, two subscriber
 * connections) on one database and one real, private redis-server: a role change or a "sign out
 * everywhere" on one instance applies at once on the other; with Redis gone or hung, both fall back
 * to PostgreSQL on every request and keep answering correctly.
 */
import { createSignInThrottle } from "~/server/auth/sign-in-throttle";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { createTrpcHttpHandler } from "~/server/api/http-handler";
import type { Db } from "~/server/platform/db/client";
import { redisConnectionOptions } from "~/server/platform/redis";
import type { AppServices } from "~/server/services";
import { withDomainServices } from "~/server/composition";
import { LocalDiskStorage } from "~/server/platform/storage/local-disk-storage";
import { createTestDatabase } from "~test/support/database";
import { startPrivateRedis, type PrivateRedis } from "~test/support/redis-server";
import { createSessionManager, SESSION_COOKIE } from "./session";
import { createSessionCache } from "./session-cache";

const SECRET = "test-secret-test-secret-test-secret-0123";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let redis: PrivateRedis;
let admin: pg.Client;

interface Instance {
  db: Db;
  services: AppServices;
  /** PostgreSQL statements this instance's pool sent (its own pg.Pool, counted at the adapter). */
  statements(): number;
  /** Session-cache lookups so far: hits, and misses with whether the cache was trusted at that moment. */
  lookups(): { hits: number; missesWhileTrusted: number; missesUntrusted: number; epoch: number };
  get(path: string, cookie: string): Promise<Response>;
  close(): Promise<void>;
}

/** One app instance: its own pool, Redis clients and session cache, like one `next start`. */
async function startInstance(): Promise<Instance> {
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  let statements = 0;
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      statements += 1;
      return query(...args);
    };
  });
  const { PrismaPg } = await import("@prisma/adapter-pg");
  const { PrismaClient } = await import("~/server/db/generated/client");
  const db = new PrismaClient({ adapter: new PrismaPg(pool) }) as Db;
  const logger = pino({ level: "silent" });
  const publisher = new Redis(redisConnectionOptions(redis.url, { maxRetriesPerRequest: 1 }));
  publisher.on("error", () => {});
  const cache = createSessionCache({
    subscriber: new Redis(redisConnectionOptions(redis.url, { maxRetriesPerRequest: 1 })),
    publisher,
    channel: "test:sessions:changed",
    ttlMs: 60_000, // long: any change seen below came through the invalidation, not expiry
    heartbeatMs: 200,
    logger,
  });
  await cache.whenReady();
  const lookups = { hits: 0, missesWhileTrusted: 0, missesUntrusted: 0 };
  const observedCache: typeof cache = {
    ...cache,
    get(userId, version) {
      const trusted = cache.isLive();
      const user = cache.get(userId, version);
      if (user) lookups.hits += 1;
      else if (trusted) lookups.missesWhileTrusted += 1;
      else lookups.missesUntrusted += 1;
      return user;
    },
  };
  const services: AppServices = withDomainServices({
    db,
    redis: publisher,
    storage: new LocalDiskStorage("/tmp/metastore-session-cache-test"),
    sessions: createSessionManager(db, { secret: SECRET, ttlSeconds: 3600, secureCookie: false }, observedCache),
    signInThrottle: createSignInThrottle({ redis: publisher, prefix: "test-session-cache", logger }),
    logger,
    config: { maxUploadBytes: 1024, queuePrefix: "test-session-cache" },
  });
  const handler = createTrpcHttpHandler(services);
  return {
    db,
    services,
    statements: () => statements,
    lookups: () => ({ ...lookups, epoch: cache.token() }),
    get: (path, cookie) => handler(new Request(`http://localhost/api/trpc/${path}`, { headers: { cookie } })),
    async close() {
      await services.sessions.close();
      publisher.disconnect();
      await db.$disconnect();
      await pool.end(); // Prisma does not end a pool it was given
    },
  };
}

async function me(instance: Instance, cookie: string): Promise<{ role: string } | null> {
  const res = await instance.get("auth.me", cookie);
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: { json: { role: string } | null } } }).result.data.json;
}

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let a: Instance;
let b: Instance;
let userId: string;
let cookie: string;

beforeAll(async () => {
  database = await createTestDatabase();
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});

afterAll(async () => {
  await admin.end();
  await database.drop();
});

async function setUp() {
  redis = await startPrivateRedis();
  a = await startInstance();
  b = await startInstance();
  const user = await a.db.user.create({
    data: { email: `u-${Date.now()}-${Math.random()}@test.local`, name: "u", passwordHash: "x", role: "operator" },
    select: { id: true, sessionVersion: true },
  });
  userId = user.id;
  cookie = `${SESSION_COOKIE}=${await a.services.sessions.seal(user)}`;
}

afterEach(async () => {
  await a.close();
  await b.close();
  await redis.close();
});

describe("session cache across two instances", () => {
  it("a warm session costs no PostgreSQL round trip", async () => {
    await setUp();
    // Warm: until a request is served from B's cache (the first one stores the session, if trusted then).
    await waitFor(
      "B to serve the session from its cache",
      async () => {
        const hits = b.lookups().hits;
        expect(await me(b, cookie)).toMatchObject({ role: "operator" });
        return b.lookups().hits - hits;
      },
      (n) => n === 1,
    );
    // The cache is trusted only while its heartbeat (200 ms here) is answered in time; on a loaded
    // machine a late heartbeat ends the trust for a moment BY DESIGN (it cannot be told from a hung
    // Redis), and those requests rightly read PostgreSQL. So the claim is checked per request: each
    // one served from the cache cost no statement, and a miss happened only while the cache was not
    // trusted or had just been emptied by such a lapse (the epoch moved) — never with a warm entry.
    const warm = b.lookups();
    let servedFromCache = 0;
    for (let i = 0; i < 20; i++) {
      const [statementsBefore, lookupsBefore] = [b.statements(), b.lookups()];
      expect(await me(b, cookie)).toMatchObject({ role: "operator" });
      const lookupsAfter = b.lookups();
      if (lookupsAfter.hits > lookupsBefore.hits) {
        servedFromCache += 1;
        expect(b.statements() - statementsBefore).toBe(0);
      }
      if (lookupsAfter.missesWhileTrusted > lookupsBefore.missesWhileTrusted) expect(lookupsAfter.epoch).not.toBe(warm.epoch);
    }
    expect(servedFromCache).toBeGreaterThan(0);
  });

  it("a role change published on one instance applies at once on the other", async () => {
    await setUp();
    expect(await me(a, cookie)).toMatchObject({ role: "operator" });
    expect(await me(b, cookie)).toMatchObject({ role: "operator" });
    // An unpublished change is not seen while the cache is trusted (proof that B reads its cache)…
    expect((await b.get("admin.cache.stats", cookie)).status).not.toBe(403);
    await admin.query("UPDATE app_user SET role = 'user' WHERE id = $1", [userId]);
    // Per request, as in the warm-session test: a late heartbeat on a loaded machine may end the
    // trust for a moment, and then B rightly reads PostgreSQL (and sees the change).
    const hits = b.lookups().hits;
    const seen = await me(b, cookie);
    expect(seen).toMatchObject({ role: b.lookups().hits > hits ? "operator" : "user" });
    // …the published one is, on both instances, as soon as the message arrives.
    await a.services.sessions.userChanged(userId);
    expect(await me(a, cookie)).toMatchObject({ role: "user" });
    await waitFor("B to see the new role", () => me(b, cookie), (u) => u?.role === "user", 1000);
    // And the dashboard (viewers and operators only) is refused on B.
    expect((await b.get("admin.cache.stats", cookie)).status).toBe(403);
  });

  it("sign out everywhere on one instance revokes the cookie on the other", async () => {
    await setUp();
    expect(await me(b, cookie)).toMatchObject({ role: "operator" });
    const res = await createTrpcHttpHandler(a.services)(
      new Request("http://localhost/api/trpc/auth.signOutEverywhere", { method: "POST", headers: { cookie, "content-type": "application/json" }, body: "{}" }),
    );
    expect(res.status).toBe(200);
    await waitFor("B to refuse the revoked cookie", () => me(b, cookie), (u) => u === null, 1000);
    expect(await me(a, cookie)).toBeNull();
  });

  it("with Redis stopped, both instances read PostgreSQL on every request (a change applies at once)", async () => {
    await setUp();
    expect(await me(a, cookie)).toMatchObject({ role: "operator" });
    expect(await me(b, cookie)).toMatchObject({ role: "operator" });
    await redis.stop();
    // No PUBLISH can reach anyone now: the instances must stop trusting what they cached.
    await admin.query("UPDATE app_user SET role = 'viewer' WHERE id = $1", [userId]);
    await waitFor("A to fall back to PostgreSQL", () => me(a, cookie), (u) => u?.role === "viewer", 2000);
    await waitFor("B to fall back to PostgreSQL", () => me(b, cookie), (u) => u?.role === "viewer", 2000);
    const before = b.statements();
    expect(await me(b, cookie)).toMatchObject({ role: "viewer" });
    expect(b.statements() - before).toBeGreaterThan(0);
    // Revocation too, without any message.
    await admin.query("UPDATE app_user SET session_version = session_version + 1 WHERE id = $1", [userId]);
    expect(await me(a, cookie)).toBeNull();
    expect(await me(b, cookie)).toBeNull();
  });

  it("with Redis hung (SIGSTOP), the heartbeat ends the trust; once it answers again, caching resumes", async () => {
    await setUp();
    expect(await me(b, cookie)).toMatchObject({ role: "operator" });
    redis.pause();
    try {
      await admin.query("UPDATE app_user SET role = 'user' WHERE id = $1", [userId]);
      await waitFor("B to stop trusting the cache", () => me(b, cookie), (u) => u?.role === "user", 2000);
    } finally {
      redis.resume();
    }
    // Trusted again: a warm session costs no statement.
    await waitFor(
      "B to serve from its cache again",
      async () => {
        await me(b, cookie);
        const before = b.statements();
        await me(b, cookie);
        return b.statements() - before;
      },
      (n) => n === 0,
      3000,
    );
  });
});
