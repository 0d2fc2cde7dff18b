import { NextResponse, type NextRequest } from "next/server";
import { newNonce, pageSecurityHeaders, servedOverHttps } from "./page-security-headers";

/**
 * Next.js 16 Proxy (the former middleware): security headers with a per-request CSP nonce for every
 * page. The CSP also goes on the forwarded request, where Next.js finds the nonce for its scripts;
 * pages render dynamically (see app/layout.tsx), so each one gets a fresh nonce.
 */
export function proxy(request: NextRequest) {
  const nonce = newNonce();
  const headers = pageSecurityHeaders({ nonce, development: process.env.NODE_ENV === "development", https: servedOverHttps(request) });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("Content-Security-Policy", headers["Content-Security-Policy"]!);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  matcher: [
    {
      // Pages only: API routes set their own headers (the download route has its own sandbox CSP),
      // static assets need none, and prefetches are not rendered documents.
      source: "/((?!api|_next/static|_next/image|favicon.ico).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
