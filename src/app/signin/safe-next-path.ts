/**
 * Where to go after signing in: only a path on this site. `?next=` is attacker-controlled (a link
 * can carry anything), and prefix checks miss what browsers treat as another host: `/\evil.com`,
 * `/\t/evil.com` (tabs and newlines are dropped), `//evil.com`, `/%2F..`. So the value is parsed as
 * a URL against a fixed origin, exactly as a browser would resolve it, and kept only when the
 * result is still on that origin; what is returned is the parsed, re-serialised path.
 */
const BASE = "https://metastore.invalid";

export function safeNextPath(next: unknown, fallback = "/files"): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.length > 2048) return fallback;
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return fallback;
  }
  if (url.origin !== BASE) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
