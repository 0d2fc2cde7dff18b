/**
 * Unsealing an iron-session cookie costs ~0.3 ms of CPU (two key derivations, HMAC, AES) on every
 * signed-in request: as much as the whole constant procedure. Its result is a pure function of the
 * cookie string, the secret and the clock, so a cookie that unsealed once is remembered until the
 * expiry sealed inside it. Only cookies that unsealed (i.e. were made with our secret) are stored,
 * and the map is bounded, so junk cookies cannot grow it. Revocation is not this cache's concern:
 * the session version is checked on every request (session-cache.ts / PostgreSQL).
 */
export interface UnsealedCacheOptions {
  maxEntries?: number;
  now?: () => number;
}

/** The expiry (ms since epoch) iron sealed into the cookie; null if it has none or is unreadable. */
export function sealedExpiry(sealed: string): number | null {
  // Fe26.2*passwordId*encryptionSalt*iv*encrypted*expiration*hmacSalt*hmac[~version]
  const parts = sealed.split("*");
  if (parts.length !== 8 || parts[0] !== "Fe26.2") return null;
  const exp = Number(parts[5]);
  return Number.isFinite(exp) && exp > 0 ? exp : null;
}

export function createUnsealedCache<T>(options: UnsealedCacheOptions = {}) {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: T; expiresAt: number }>();
  return {
    get(sealed: string): T | undefined {
      const entry = entries.get(sealed);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(sealed);
        return undefined;
      }
      return entry.value;
    },
    /** Remember a cookie that unsealed to `value` (not stored if it carries no expiry). */
    set(sealed: string, value: T) {
      const expiresAt = sealedExpiry(sealed);
      if (expiresAt === null || expiresAt <= now()) return;
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!); // oldest first
      entries.set(sealed, { value, expiresAt });
    },
    size: () => entries.size,
  };
}
