import { describe, expect, it } from "vitest";
import { assertCachePrefix, callerScope, canonicalInput, entryKey, keyspace, lockKey, prefixOfEntryKey } from "./keys";

const ks = keyspace("app");

describe("cache keys", () => {
  it("puts every key under the app's prefix, with the cache prefix second (one SCAN pattern per prefix)", () => {
    const key = entryKey(ks, { prefix: "files", path: "files.list", scope: "u:1:user", input: { limit: 25 } });
    expect(key).toMatch(/^app:cache:e:files:files\.list:u:1:user:[\w-]{32}$/);
    expect(prefixOfEntryKey(ks, key)).toBe("files");
    expect(prefixOfEntryKey(ks, "app:cache:t:file:1")).toBeNull();
    expect(lockKey(ks, key, ["a", "b"])).not.toBe(lockKey(ks, key, ["a", "c"]));
  });

  it("canonicalises input: key order and undefined properties do not matter; types do", () => {
    expect(canonicalInput({ a: 1, b: { d: 2, c: 3 } })).toBe(canonicalInput({ b: { c: 3, d: 2 }, a: 1, z: undefined }));
    expect(canonicalInput({ a: "1" })).not.toBe(canonicalInput({ a: 1 }));
    expect(canonicalInput({ at: new Date(0) })).not.toBe(canonicalInput({ at: new Date(0).toISOString() }));
    expect(canonicalInput(undefined)).not.toBe(canonicalInput(null));
  });

  it("scopes per user AND role, so a changed role never reads what the old role cached", () => {
    expect(callerScope({ id: "u1", role: "user" })).not.toBe(callerScope({ id: "u2", role: "user" }));
    expect(callerScope({ id: "u1", role: "operator" })).not.toBe(callerScope({ id: "u1", role: "user" }));
    expect(callerScope({ id: "u1", role: "viewer" }, true)).toBe(callerScope({ id: "u2", role: "viewer" }, true));
    expect(callerScope({ id: "u1", role: "viewer" }, true)).not.toBe(callerScope({ id: "u1", role: "user" }, true));
    expect(callerScope(null)).toBe("anon");
  });

  it.each(["files*", "a b", "", "x".repeat(65), "a[b]"])("refuses the prefix %j (it goes into a SCAN pattern)", (prefix) => {
    expect(() => assertCachePrefix(prefix)).toThrow(/must be 1-64 letters, digits/);
  });
});
