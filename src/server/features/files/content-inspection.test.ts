/** The one rule set both upload paths and the file-inspector consumer sniff content with. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { acceptedContentType, sha256Hex, sniffContentType } from "./content-inspection";

const PNG_HEADER = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
const utf8 = (text: string) => new TextEncoder().encode(text);

describe("sniffContentType", () => {
  it("believes magic numbers over anything else", async () => {
    expect(await sniffContentType(PNG_HEADER)).toBe("image/png");
  });

  it("calls UTF-8 without a NUL byte text, control characters included", async () => {
    expect(await sniffContentType(utf8("héllo wörld\n"))).toBe("text/plain");
    expect(await sniffContentType(utf8("\u001b[31mred\u001b[0m log line\n"))).toBe("text/plain");
  });

  it("calls a NUL byte or invalid UTF-8 opaque bytes, also at the very end of a short file", async () => {
    expect(await sniffContentType(utf8("text\u0000more"))).toBe("application/octet-stream");
    expect(await sniffContentType(Uint8Array.from([...utf8("abc"), 0xff]))).toBe("application/octet-stream");
    expect(await sniffContentType(Uint8Array.from([...utf8("abc"), 0xc3]))).toBe("application/octet-stream");
  });

  it("does not hold a character cut at the 64 KiB sample edge against a longer text file", async () => {
    // 65,535 ASCII bytes, then "é" (2 bytes) straddling the 65,536-byte sample edge.
    const text = utf8(`${"a".repeat(64 * 1024 - 1)}é and more`);
    expect(await sniffContentType(text)).toBe("text/plain");
  });

  it("is the upload policy's verdict: refused types get a 415 naming the sniffed type", async () => {
    expect(await acceptedContentType(utf8("plain"))).toBe("text/plain");
    await expect(acceptedContentType(Uint8Array.from([0x4d, 0x5a, 0, 0, 0, 0]))).rejects.toMatchObject({ kind: "unsupported" });
  });
});

describe("sha256Hex", () => {
  it("is the hex sha256 of the bytes", () => {
    const bytes = utf8("checksum me");
    expect(sha256Hex(bytes)).toBe(createHash("sha256").update(bytes).digest("hex"));
  });
});
