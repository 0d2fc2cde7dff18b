/**
 * Hole 11: page responses carry a nonce CSP (no inline script without the nonce), frame-ancestors
 * 'none', a Referrer-Policy, and HSTS over HTTPS only. Through the app's real Proxy (src/proxy.ts).
 */
import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { config, proxy } from "~/proxy";

const page = (url: string, headers: Record<string, string> = {}) => proxy(new NextRequest(url, { headers }));

function directives(csp: string | null) {
  return new Map((csp ?? "").split(";").map((d) => {
    const [name, ...values] = d.trim().split(/\s+/);
    return [name!, values] as const;
  }));
}

describe("page security headers", () => {
  it("sets a nonce CSP that allows no unnonced inline script, and hands the nonce to Next.js", () => {
    const res = page("http://localhost:3000/files");
    const csp = res.headers.get("content-security-policy");
    const d = directives(csp);
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp ?? "")?.[1];
    expect(nonce).toBeDefined();
    expect(d.get("script-src")).toEqual(["'self'", `'nonce-${nonce}'`, "'strict-dynamic'"]);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    expect(d.get("frame-ancestors")).toEqual(["'none'"]);
    expect(d.get("object-src")).toEqual(["'none'"]);
    expect(d.get("base-uri")).toEqual(["'self'"]);
    // The forwarded request carries the same policy (Next.js takes its scripts' nonce from it).
    expect(res.headers.get("x-middleware-request-content-security-policy")).toBe(csp);
    expect(res.headers.get("x-middleware-request-x-nonce")).toBe(nonce);
    expect(res.headers.get("referrer-policy")).toBe("same-origin");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("uses a fresh nonce for every request", () => {
    const nonces = new Set(Array.from({ length: 20 }, () => /'nonce-([^']+)'/.exec(page("http://localhost:3000/signin").headers.get("content-security-policy")!)?.[1]));
    expect(nonces.size).toBe(20);
  });

  it("sends HSTS (and upgrade-insecure-requests) only over HTTPS", () => {
    expect(page("http://localhost:3000/files").headers.get("strict-transport-security")).toBeNull();
    const behindTls = page("http://10.0.0.5:3000/files", { "x-forwarded-proto": "https" });
    expect(behindTls.headers.get("strict-transport-security")).toBe("max-age=31536000");
    expect(behindTls.headers.get("content-security-policy")).toMatch(/upgrade-insecure-requests/);
    expect(page("https://metastore.example.com/files").headers.get("strict-transport-security")).toBe("max-age=31536000");
  });

  it("applies to pages, not to API routes or static assets", () => {
    const source = new RegExp(`^${config.matcher[0]!.source}$`);
    for (const path of ["/", "/files", "/signin", "/admin/sagas/123"]) expect(path).toMatch(source);
    for (const path of ["/api/trpc/files.list", "/api/files/x/download", "/_next/static/chunk.js"]) expect(path).not.toMatch(source);
  });
});
