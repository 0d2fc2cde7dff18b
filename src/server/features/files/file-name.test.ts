import { describe, expect, it } from "vitest";
import { DomainError } from "../../platform/errors";
import { contentDisposition, sanitizeFileName } from "./file-name";

describe("sanitizeFileName", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\me\\photo.jpg", "photo.jpg"],
    ["a<b>c:d|e?.txt", "a_b_c_d_e_.txt"],
    ["  .hidden  ", "hidden"],
    ["tab\there.txt", "tab_here.txt"],
    ["e\u0301te\u0301.txt", "été.txt"],
  ])("%j → %j", (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it("keeps the extension when shortening to 255 bytes", () => {
    const name = sanitizeFileName(`${"ж".repeat(300)}.txt`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith(".txt")).toBe(true);
  });

  it.each(["", "...", "///", "\u0000\u0001"])("refuses %j with a domain error", (raw) => {
    expect(() => sanitizeFileName(raw)).toThrow(DomainError);
  });
});

describe("contentDisposition", () => {
  it("gives an ASCII fallback and the exact UTF-8 name (RFC 6266)", () => {
    expect(contentDisposition('Résumé "final".pdf')).toBe(
      `attachment; filename="R_sum_ _final_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf`,
    );
  });
});

describe("sanitizeFileName on hostile lengths (issue 11: a multipart file name has no length limit)", () => {
  // Each of these took minutes or more before (one-character-at-a-time shortening, a backtracking
  // trailing-dots pattern); the vitest timeout is the only clock here.
  it("a name of a million characters is cut to 255 bytes, keeping its extension", () => {
    const name = sanitizeFileName(`${"é".repeat(1_000_000)}.txt`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith(".txt")).toBe(true);
    expect(name.startsWith("éé")).toBe(true);
  });

  it("a million dots and spaces before a letter, and after it", () => {
    expect(sanitizeFileName(`${". ".repeat(500_000)}a${" .".repeat(500_000)}`)).toBe("a");
    expect(sanitizeFileName(`a${". ".repeat(500_000)}x`).length).toBeLessThanOrEqual(255);
  });
});
