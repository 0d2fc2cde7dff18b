/**
 * Security headers of the app's HTML pages, set by src/proxy.ts on every page request.
 *
 * - Content-Security-Policy with a fresh nonce per request: Next.js reads the nonce from the
 *   request's copy of the header and puts it on its own scripts, so no other inline script runs
 *   ('strict-dynamic' lets those scripts load the app's chunks). React's development build needs
 *   'unsafe-eval'; production does not.
 * - frame-ancestors 'none' (and X-Frame-Options for old browsers): no clickjacking in frames.
 * - Referrer-Policy same-origin: page URLs (file ids, ?next=) never leave the site.
 * - Strict-Transport-Security only when the page was served over HTTPS (a plain-http development
 *   server must not pin the browser to https).
 */
export function pageSecurityHeaders(opts: { nonce: string; development: boolean; https: boolean }): Record<string, string> {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${opts.nonce}' 'strict-dynamic'${opts.development ? " 'unsafe-eval'" : ""}`,
    // <style> elements need the nonce; style="" attributes (React's style prop) are allowed.
    `style-src 'self' 'nonce-${opts.nonce}'`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    ...(opts.https ? ["upgrade-insecure-requests"] : []),
  ].join("; ");
  return {
    "Content-Security-Policy": csp,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    ...(opts.https ? { "Strict-Transport-Security": "max-age=31536000" } : {}),
  };
}

/** A nonce for one response: 128 random bits, base64. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/** Whether the browser reached us over HTTPS (directly, or through a proxy that says so). */
export function servedOverHttps(req: Request): boolean {
  const forwarded = req.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return forwarded ? forwarded === "https" : new URL(req.url).protocol === "https:";
}
