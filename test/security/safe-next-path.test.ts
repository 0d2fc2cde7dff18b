/**
 * Hole 5: the sign-in page's `?next=` only ever leads to a path on this site. Each hostile value is
 * resolved the way a browser resolves a redirect target, to show where it would really have gone.
 */
import { describe, expect, it } from "vitest";
import { safeNextPath } from "~/app/signin/safe-next-path";

const APP = "https://metastore.example.com";
/** Where a browser on the app would land after router.replace(target). */
const landsOn = (target: string) => new URL(target, APP).origin;

describe("safeNextPath", () => {
  it.each([
    ["/\\evil.com"], // backslash: a slash to browsers
    ["/\t/evil.com"], // ?next=/%09/evil.com arrives decoded: the tab is dropped, leaving //evil.com
    ["/\n/evil.com"],
    ["/\r\n/evil.com"],
    ["//evil.com"],
    ["/\\/evil.com"],
    ["https://evil.com/files"],
    ["javascript:alert(1)"],
    ["evil.com"],
    [""],
    [" /files"],
  ])("sends %j to /files, never off the site", (next) => {
    expect(safeNextPath(next)).toBe("/files");
  });

  it("ignores a repeated parameter (an array) and anything that is not a string", () => {
    expect(safeNextPath(["/admin", "//evil.com"])).toBe("/files");
    expect(safeNextPath(undefined)).toBe("/files");
  });

  it.each([
    ["/admin", "/admin"],
    ["/admin/sagas?status=failed#top", "/admin/sagas?status=failed#top"],
    ["/files/../admin", "/admin"],
    ["/%2F%2Fevil.com", "/%2F%2Fevil.com"], // an encoded slash stays a path segment on this site
  ])("keeps the same-site path %j as %j", (next, expected) => {
    expect(safeNextPath(next)).toBe(expected);
    expect(landsOn(safeNextPath(next))).toBe(APP);
  });
});
