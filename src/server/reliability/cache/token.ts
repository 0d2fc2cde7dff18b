import { randomBytes } from "node:crypto";

/** A fresh opaque token (tag versions, lock owners): time-ordered prefix, random tail. */
export const newToken = () => `${Date.now().toString(36)}${randomBytes(6).toString("base64url")}`;
