/**
 * CSRF defence for state-changing requests, beyond SameSite=Lax: a multipart upload is a "simple"
 * request that a page on a sibling subdomain (same site, so Lax cookies go along) could send.
 *
 * Browsers say where a request comes from: Sec-Fetch-Site (modern browsers, not settable by
 * scripts) and Origin (every cross-origin POST). A mutation is accepted when Sec-Fetch-Site is
 * same-origin (or none: typed by the user), else when Origin is the app's origin; a request with
 * neither header is not from a browser page (curl, scripts, server-side callers) and carries no
 * ambient credentials an attacker could borrow, so it is accepted.
 *
 * The app's origin is APP_ORIGIN when configured (required in production); without it (development)
 * it is the origin the request was sent to, from Host / X-Forwarded-Host, which a cross-site page
 * cannot set.
 */
export function crossSiteRefusal(req: Request, appOrigin: string | undefined): string | null {
  const site = req.headers.get("sec-fetch-site")?.toLowerCase();
  if (site) {
    if (site === "same-origin" || site === "none") return null;
    return `Requests from other sites (${site}) may not change anything here: use MetaStore's own pages`;
  }
  const origin = req.headers.get("origin");
  if (origin === null) return null;
  const expected = appOrigin ?? requestOrigin(req);
  if (origin === expected) return null;
  return `Requests from ${origin === "null" ? "an opaque origin" : origin} may not change anything here: use MetaStore's own pages at ${expected}`;
}

/** The origin this request was addressed to (as the browser saw it, behind Next.js or a proxy). */
function requestOrigin(req: Request): string {
  const url = new URL(req.url);
  const host = req.headers.get("x-forwarded-host")?.split(",")[0]?.trim() || req.headers.get("host") || url.host;
  const proto = req.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() || url.protocol.slice(0, -1);
  return `${proto}://${host}`;
}

/** Methods that never change state (tRPC queries are GETs; mutations are always POSTs). */
export function isSafeMethod(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS";
}
