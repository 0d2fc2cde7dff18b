import { sealData, unsealData } from "iron-session";
import type { Db } from "../platform/db/client";
import { hashPassword, verifyPassword } from "./passwords";
import type { SessionCache } from "./session-cache";
import { createUnsealedCache } from "./unsealed-cache";

export const SESSION_COOKIE = "metastore_session";

export type Role = "user" | "viewer" | "operator";

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  /**
   * Set while the account still holds a one-time password an operator handed out: such a session
   * may only read itself, change the password or sign out (see api/trpc.ts, passwordChangeGate).
   * Optional so in-process callers (tests, scripts) need not spell it out; resolve() always sets it.
   */
  mustChangePassword?: boolean;
}

interface SealedSession {
  userId: string;
  /** Must equal app_user.session_version: bumping it revokes every cookie issued before. */
  version: number;
}

export interface SessionConfig {
  secret: string;
  ttlSeconds: number;
  secureCookie: boolean;
}

/**
 * Sessions are iron-session sealed cookies (AES-256-CBC + HMAC, the library's format): the cookie
 * holds only the user id and a revocation counter; the user and role are read from PostgreSQL, or
 * from the short in-process session cache while its Redis invalidation channel is live (see
 * session-cache.ts), so a role change or a revoked session takes effect at once on every instance
 * — provided the code that changes them calls `userChanged` after its commit.
 */
export function createSessionManager(db: Db, config: SessionConfig, cache?: SessionCache) {
  const sealOptions = { password: config.secret, ttl: config.ttlSeconds };
  const unsealed = createUnsealedCache<SealedSession>();

  return {
    async seal(user: { id: string; sessionVersion: number }): Promise<string> {
      return sealData({ userId: user.id, version: user.sessionVersion } satisfies SealedSession, sealOptions);
    },

    /** The user behind a cookie value, or null for a missing, tampered, expired or revoked one. */
    async resolve(cookieValue: string | undefined): Promise<SessionUser | null> {
      if (!cookieValue) return null;
      let session: Partial<SealedSession> | undefined = unsealed.get(cookieValue);
      if (!session) {
        try {
          session = await unsealData<SealedSession>(cookieValue, sealOptions);
        } catch {
          return null;
        }
        if (!session.userId || typeof session.version !== "number") return null;
        unsealed.set(cookieValue, { userId: session.userId, version: session.version });
      }
      if (!session.userId || typeof session.version !== "number") return null;
      const cached = cache?.get(session.userId, session.version);
      if (cached) return cached;
      const token = cache?.token();
      const user = await db.user.findUnique({
        where: { id: session.userId },
        select: { id: true, email: true, name: true, role: true, sessionVersion: true, mustChangePassword: true },
      });
      if (!user || user.sessionVersion !== session.version) return null;
      const resolved: SessionUser = { id: user.id, email: user.email, name: user.name, role: user.role, mustChangePassword: user.mustChangePassword };
      if (cache && token !== undefined) cache.set(user.id, user.sessionVersion, resolved, token);
      return resolved;
    },

    /**
     * A user's role or session version changed (committed): every instance stops using what it
     * cached for them. Call after the transaction that changed them has committed.
     */
    async userChanged(userId: string): Promise<void> {
      await cache?.publish(userId);
    },

    /** Stop the session cache's subscription (process shutdown, tests). */
    async close(): Promise<void> {
      await cache?.close();
    },

    /** Check credentials; the same answer (null) for an unknown email and a wrong password. */
    async authenticate(email: string, password: string) {
      const user = await db.user.findUnique({
        where: { email: email.toLowerCase() },
        select: { id: true, email: true, name: true, role: true, sessionVersion: true, passwordHash: true, passwordExpiresAt: true, mustChangePassword: true },
      });
      if (!user) {
        await hashPassword(password); // spend the same time as a real check: no user enumeration by timing
        return null;
      }
      if (!(await verifyPassword(user.passwordHash, password))) return null;
      // A one-time password an operator handed out stops working when it expires.
      if (user.passwordExpiresAt && user.passwordExpiresAt.getTime() <= Date.now()) return null;
      const { passwordHash: _omit, passwordExpiresAt: _expires, ...rest } = user;
      return rest;
    },

    cookieHeader(value: string): string {
      return [
        `${SESSION_COOKIE}=${value}`,
        "Path=/",
        "HttpOnly",
        "SameSite=Lax",
        `Max-Age=${config.ttlSeconds}`,
        ...(config.secureCookie ? ["Secure"] : []),
      ].join("; ");
    },

    clearCookieHeader(): string {
      return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${config.secureCookie ? "; Secure" : ""}`;
    },
  };
}

export type SessionManager = ReturnType<typeof createSessionManager>;

const SEMICOLON = 59;
const EQUALS = 61;
const isBlank = (code: number) => code === 32 || code === 9;

/**
 * Read one cookie from a Cookie header: the first pair whose name is `name`, its value trimmed and
 * percent-decoded. It runs on every request, so it looks for the name with indexOf instead of
 * splitting the whole header into pairs, and decodes only a value that has a '%' in it.
 */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (let at = header.indexOf(name); at >= 0; at = header.indexOf(name, at + 1)) {
    // A pair's name: at the start of the header or after a ';' (blanks between), then '=' (blanks between).
    let before = at - 1;
    while (before >= 0 && isBlank(header.charCodeAt(before))) before -= 1;
    if (before >= 0 && header.charCodeAt(before) !== SEMICOLON) continue;
    let eq = at + name.length;
    while (eq < header.length && isBlank(header.charCodeAt(eq))) eq += 1;
    if (header.charCodeAt(eq) !== EQUALS) continue;
    const end = header.indexOf(";", eq + 1);
    const raw = header.slice(eq + 1, end < 0 ? header.length : end).trim();
    if (!raw.includes("%")) return raw;
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined; // not valid percent-encoding ("%E0%A4%A"): no session, not a 500
    }
  }
  return undefined;
}
