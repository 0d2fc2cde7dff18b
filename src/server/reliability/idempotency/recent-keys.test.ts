import { describe, expect, it } from "vitest";
import { RecentKeys } from "./recent-keys";

describe("RecentKeys", () => {
  it("remembers a key per scope", () => {
    const recent = new RecentKeys();
    recent.add("u1:files.rename", "k1");
    expect(recent.has("u1:files.rename", "k1")).toBe(true);
    expect(recent.has("u2:files.rename", "k1")).toBe(false);
    expect(recent.has("u1:files.rename", "k2")).toBe(false);
  });

  it("forgets the least recently seen key first once full", () => {
    const recent = new RecentKeys(2);
    recent.add("s", "a");
    recent.add("s", "b");
    recent.add("s", "a"); // seen again: now the newest
    recent.add("s", "c");
    expect(recent.size).toBe(2);
    expect(recent.has("s", "a")).toBe(true);
    expect(recent.has("s", "b")).toBe(false);
    expect(recent.has("s", "c")).toBe(true);
  });
});
