import { describe, expect, it } from "vitest";
import { fingerprintInput } from "./fingerprint";

const fp = fingerprintInput;

function form(content: string, name = "a.txt", tags: string[] = [], lastModified = 1) {
  const fd = new FormData();
  for (const tag of tags) fd.append("tags", tag);
  fd.append("file", new File([content], name, { type: "text/plain", lastModified }));
  return fd;
}

describe("fingerprintInput", () => {
  it("is a sha256 hex digest that ignores key order and undefined members", async () => {
    const a = await fp({ id: "x", name: "n", nested: { b: 2, a: 1 } });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await fp({ nested: { a: 1, b: 2 }, name: "n", id: "x", extra: undefined })).toBe(a);
  });

  it("tells apart values that JSON would blur", async () => {
    const distinct = [
      "1",
      1,
      true,
      null,
      undefined,
      1n,
      [1, 2],
      [2, 1],
      { a: null },
      {},
      new Date("2026-01-01T00:00:00Z"),
      "2026-01-01T00:00:00.000Z",
      new Set([1]),
      new Map([["a", 1]]),
      { a: 1 },
      NaN,
      new Uint8Array([1, 2]),
    ];
    const prints = await Promise.all(distinct.map((v) => fp(v)));
    expect(new Set(prints).size).toBe(distinct.length);
  });

  it("treats sets and maps as unordered", async () => {
    expect(await fp(new Set([1, 2, 3]))).toBe(await fp(new Set([3, 1, 2])));
    expect(await fp(new Map([["a", 1], ["b", 2]]))).toBe(await fp(new Map([["b", 2], ["a", 1]])));
  });

  it("fingerprints multipart forms by file name, type and content, not modification time or part order", async () => {
    const base = await fp(form("hello", "a.txt", ["x", "y"], 1));
    expect(await fp(form("hello", "a.txt", ["x", "y"], 999))).toBe(base);
    expect(await fp(form("hello!", "a.txt", ["x", "y"]))).not.toBe(base);
    expect(await fp(form("hello", "b.txt", ["x", "y"]))).not.toBe(base);
    // Repeated parts of one name keep their order: tags [x, y] and [y, x] are different requests.
    expect(await fp(form("hello", "a.txt", ["y", "x"]))).not.toBe(base);
  });

  it("refuses values that cannot come off the wire", async () => {
    await expect(fp({ f: () => 1 })).rejects.toThrow(/Cannot fingerprint a function/);
  });
});
