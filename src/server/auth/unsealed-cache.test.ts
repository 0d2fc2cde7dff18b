import { sealData, unsealData } from "iron-session";
import { describe, expect, it } from "vitest";
import { createUnsealedCache, sealedExpiry } from "./unsealed-cache";

const password = "test-secret-test-secret-test-secret-0123";

describe("unsealed cookie cache", () => {
  it("reads the expiry iron sealed into the cookie", async () => {
    const before = Date.now();
    const sealed = await sealData({ userId: "u", version: 1 }, { password, ttl: 3600 });
    const exp = sealedExpiry(sealed)!;
    expect(exp).toBeGreaterThanOrEqual(before + 3600_000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect(sealedExpiry("not-a-seal")).toBeNull();
    expect(sealedExpiry(await sealData({ userId: "u" }, { password, ttl: 0 }))).toBeNull();
  });

  it("serves a cookie until its sealed expiry, never after", async () => {
    let now = Date.now();
    const cache = createUnsealedCache<{ userId: string }>({ now: () => now });
    const sealed = await sealData({ userId: "u" }, { password, ttl: 60 });
    cache.set(sealed, await unsealData(sealed, { password, ttl: 60 }));
    expect(cache.get(sealed)).toEqual({ userId: "u" });
    now = sealedExpiry(sealed)!;
    expect(cache.get(sealed)).toBeUndefined();
    expect(cache.size()).toBe(0);
  });

  it("stays within its bound (oldest dropped first)", async () => {
    const cache = createUnsealedCache<number>({ maxEntries: 2 });
    const seals = await Promise.all([1, 2, 3].map((i) => sealData({ i }, { password, ttl: 60 })));
    seals.forEach((s, i) => cache.set(s, i));
    expect(cache.size()).toBe(2);
    expect(cache.get(seals[0]!)).toBeUndefined();
    expect(cache.get(seals[2]!)).toBe(2);
  });
});
