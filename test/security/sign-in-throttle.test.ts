/**
 * Hole 3: password guessing is throttled per account and per client address, through the real
 * tRPC fetch handler: 429 with Retry-After, a log line, a metric, and the same answer whether or
 * not the account exists. Redis being down does not lift the limit.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry } from "~/server/metrics/prometheus";
import { redisConnectionOptions } from "~/server/platform/redis";
import { createTestApp, type TestApp } from "../support/app";
import { capturedLogger } from "../support/captured-logger";
import { startPrivateRedis, type PrivateRedis } from "../support/redis-server";

const { logger, lines: logLines } = capturedLogger();

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp({ logger, signInThrottle: { maxFailuresPerAccount: 3, maxFailuresPerAddress: 6, windowSeconds: 600 } });
});
afterAll(() => app.close());

interface SignInAnswer {
  status: number;
  retryAfter: string | null;
  message: string;
  code: string | undefined;
}

async function signIn(email: string, password: string, address = "203.0.113.7"): Promise<SignInAnswer> {
  const res = await app.http("/api/trpc/auth.signIn", {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": address },
    body: JSON.stringify({ json: { email, password } }),
  });
  const body = (await res.json()) as { error?: { json: { message: string; data: { code: string } } } };
  return { status: res.status, retryAfter: res.headers.get("retry-after"), message: body.error?.json.message ?? "", code: body.error?.json.data.code };
}

describe("sign-in throttle", () => {
  it("locks an account after its failures, answering 429 with Retry-After even for the right password", async () => {
    await app.createUser({ email: "victim@test.local", password: "right-password" });
    for (let i = 0; i < 3; i++) expect((await signIn("victim@test.local", `guess-${i}`, `198.51.100.${i}`)).status).toBe(401);
    const locked = await signIn("Victim@Test.local", "right-password", "198.51.100.99");
    expect(locked.status).toBe(429);
    expect(locked.code).toBe("TOO_MANY_REQUESTS");
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(600);
    expect(locked.message).toMatch(/Too many failed sign-ins.*try again in \d+ minute/);
    expect(logLines).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/sign-in throttled/), account: "victim@test.local" }));
  });

  it("answers a locked-out unknown email exactly like a locked-out account (nothing revealed)", async () => {
    await app.createUser({ email: "exists@test.local", password: "right-password" });
    const answers = async (email: string) => {
      const seen: Array<Omit<SignInAnswer, "retryAfter">> = [];
      for (let i = 0; i < 4; i++) {
        const { retryAfter: _r, ...rest } = await signIn(email, `wrong-${i}`, `192.0.2.${i + 10}`);
        seen.push(rest);
      }
      return seen;
    };
    const existing = await answers("exists@test.local");
    const unknown = await answers("nobody-here@test.local");
    expect(existing.map((a) => a.status)).toEqual([401, 401, 401, 429]);
    expect(unknown).toEqual(existing);
  });

  it("limits one client address across accounts, and not other addresses", async () => {
    const address = "203.0.113.50";
    for (let i = 0; i < 6; i++) expect((await signIn(`spray-${i}@test.local`, "password1", address)).status).toBe(401);
    expect((await signIn("spray-new@test.local", "password1", address)).status).toBe(429);
    expect((await signIn("spray-new@test.local", "password1", "203.0.113.51")).status).toBe(401);
  });

  it("clears an account's failures after a successful sign-in", async () => {
    await app.createUser({ email: "forgetful@test.local", password: "right-password" });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await signIn("forgetful@test.local", "wrong", `10.1.${round}.${i}`)).status).toBe(401);
      expect((await signIn("forgetful@test.local", "right-password", `10.2.${round}.1`)).status).toBe(200);
    }
  });

  it("counts refusals in metastore_signin_throttled_total", async () => {
    const metrics = await createMetricsRegistry(app.services).getSingleMetricAsString("metastore_signin_throttled_total");
    const value = Number(/metastore_signin_throttled_total (\d+)/.exec(metrics)?.[1]);
    expect(value).toBe(app.services.signInThrottle.throttledTotal());
    expect(value).toBeGreaterThanOrEqual(3);
  });
});

describe("sign-in throttle with Redis down", () => {
  let redis: PrivateRedis;
  let client: Redis;
  let downApp: TestApp;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redisConnectionOptions(redis.url, { maxRetriesPerRequest: 1 }));
    client.on("error", () => {});
    downApp = await createTestApp({ cacheRedisUrl: null, signInThrottle: { redis: client, maxFailuresPerAccount: 2, windowSeconds: 600 } });
  });
  afterAll(async () => {
    await downApp.close();
    client.disconnect();
    await redis.close();
  });

  it("keeps limiting in memory while Redis is unreachable", async () => {
    await downApp.createUser({ email: "during-outage@test.local", password: "right-password" });
    await redis.stop();
    const attempt = (password: string) =>
      downApp.http("/api/trpc/auth.signIn", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { email: "during-outage@test.local", password } }),
      });
    expect((await attempt("wrong-1")).status).toBe(401);
    expect((await attempt("wrong-2")).status).toBe(401);
    const locked = await attempt("right-password");
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toMatch(/^\d+$/);
  });
});
