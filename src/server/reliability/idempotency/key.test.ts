import { describe, expect, it } from "vitest";
import { parseIdempotencyKey } from "./key";

describe("parseIdempotencyKey", () => {
  it("accepts a bare key and the IETF sf-string form, unquoting it", () => {
    expect(parseIdempotencyKey("8e03978e-40d5-43e8-bc93-6894a57f9324")).toEqual({ ok: true, key: "8e03978e-40d5-43e8-bc93-6894a57f9324" });
    expect(parseIdempotencyKey('"8e03978e-40d5"')).toEqual({ ok: true, key: "8e03978e-40d5" });
    expect(parseIdempotencyKey('"say \\"hi\\" \\\\ bye"')).toEqual({ ok: true, key: 'say "hi" \\ bye' });
    expect(parseIdempotencyKey("x".repeat(255))).toEqual({ ok: true, key: "x".repeat(255) });
  });

  it.each([
    ["empty", "", /is empty/],
    ["blank", "   ", /is empty/],
    ["an empty quoted string", '""', /is empty/],
    ["over 255 characters", "k".repeat(256), /256 characters long; the limit is 255/],
    ["a control character", "abc\u0001def", /printable ASCII.*character 4/],
    ["DEL", "abc\u007f", /printable ASCII.*character 4/],
    ["non-ASCII", "café", /printable ASCII.*character 4/],
  ])("rejects a key that is %s, saying why", (_label, raw, reason) => {
    const parsed = parseIdempotencyKey(raw);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toMatch(reason);
  });
});
