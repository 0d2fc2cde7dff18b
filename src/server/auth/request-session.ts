import { readCookie, SESSION_COOKIE } from "./session";

export function readSessionCookie(req: Request): string | undefined {
  return readCookie(req.headers.get("cookie"), SESSION_COOKIE);
}
