import { describe, expect, it } from "vitest";
import { encodeEntry } from "./entry";
import { ParsedEntries } from "./parsed-entries";

const raw = (name: string, versions = ["v1"]) => encodeEntry({ value: { name, at: new Date(0) }, versions, freshUntil: 1, loadMs: 2 });

describe("ParsedEntries", () => {
  it("reuses the parse while the raw entry is unchanged, and parses again once it is rewritten", () => {
    const memo = new ParsedEntries();
    const first = memo.parse("k", raw("a"));
    expect(memo.parse("k", raw("a"))).toBe(first); // equal text (a new string): the same parse
    const rewritten = memo.parse("k", raw("a", ["v2"]));
    expect(rewritten).not.toBe(first);
    expect(rewritten?.versions).toEqual(["v2"]);
  });

  it("keeps at most maxEntries keys (least recently hit evicted) and skips entries above the size bound", () => {
    const memo = new ParsedEntries(2, 200);
    const a = memo.parse("a", raw("a"));
    memo.parse("b", raw("b"));
    expect(memo.parse("a", raw("a"))).toBe(a); // a is now the most recent
    memo.parse("c", raw("c"));
    expect(memo.size).toBe(2);
    expect(memo.parse("a", raw("a"))).toBe(a); // b was evicted, not a
    const big = raw("x".repeat(300));
    expect(memo.parse("big", big)).not.toBe(memo.parse("big", big));
  });

  it("answers null for text that is not an entry", () => {
    expect(new ParsedEntries().parse("k", "not json")).toBeNull();
  });
});
