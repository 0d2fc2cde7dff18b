import { describe, expect, it } from "vitest";
import { readCookie } from "./session";

describe("readCookie", () => {
  it("finds the named pair wherever it stands, trimmed and decoded", () => {
    expect(readCookie("metastore_session=abc", "metastore_session")).toBe("abc");
    expect(readCookie("a=1; metastore_session=Fe26.2*1*x~2; b=2", "metastore_session")).toBe("Fe26.2*1*x~2");
    expect(readCookie("a=1;metastore_session = v%20w ;b=2", "metastore_session")).toBe("v w");
    expect(readCookie("metastore_session=", "metastore_session")).toBe("");
  });

  it("takes the first pair of that name, and never a name that only ends or contains it", () => {
    expect(readCookie("metastore_session=first; metastore_session=second", "metastore_session")).toBe("first");
    expect(readCookie("x_metastore_session=no; metastore_session=yes", "metastore_session")).toBe("yes");
    expect(readCookie("metastore_session_old=no", "metastore_session")).toBeUndefined();
    expect(readCookie("x=metastore_session=no", "metastore_session")).toBeUndefined();
    expect(readCookie("a=1; b=2", "metastore_session")).toBeUndefined();
    expect(readCookie(null, "metastore_session")).toBeUndefined();
    expect(readCookie("", "metastore_session")).toBeUndefined();
  });

  it("answers no session (not an error) for a value that is not valid percent-encoding", () => {
    expect(readCookie("metastore_session=%E0%A4%A", "metastore_session")).toBeUndefined();
  });
});
