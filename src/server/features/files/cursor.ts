import { badInput } from "../../platform/errors";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Keyset cursors are opaque to clients (base64url of the last id seen) so the ordering key can
 * change later without breaking them; a cursor that does not decode is the client's mistake (400).
 */
export function encodeCursor(id: string): string {
  return Buffer.from(`f1:${id}`).toString("base64url");
}

export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, "base64url").toString("utf8");
  const id = decoded.startsWith("f1:") ? decoded.slice(3) : "";
  if (!UUID.test(id)) {
    throw badInput("The page cursor is not valid: pass back the nextCursor of a previous page, or omit it for the first page");
  }
  return id;
}
