/**
 * The Idempotency-Key header value. The IETF draft (draft-ietf-httpapi-idempotency-key-header)
 * makes it a Structured Field string (`"…"`); Stripe and most clients send it bare. Both are
 * accepted; what is stored is the key without the quotes.
 */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export type ParsedIdempotencyKey = { ok: true; key: string } | { ok: false; reason: string };

/** Printable ASCII (space to tilde): anything else is a client bug or an injection attempt. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export function parseIdempotencyKey(raw: string): ParsedIdempotencyKey {
  let key = raw.trim();
  // sf-string form: "abc" with \" and \\ escapes inside.
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) {
    key = key.slice(1, -1).replace(/\\(["\\])/g, "$1");
  }
  if (key.trim() === "") {
    return { ok: false, reason: "The Idempotency-Key header is empty: send a unique value per operation, such as a UUID" };
  }
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return {
      ok: false,
      reason: `The Idempotency-Key header is ${key.length} characters long; the limit is ${MAX_IDEMPOTENCY_KEY_LENGTH} (a UUID is 36)`,
    };
  }
  if (!PRINTABLE_ASCII.test(key)) {
    const at = [...key].findIndex((c) => !PRINTABLE_ASCII.test(c));
    return {
      ok: false,
      reason: `The Idempotency-Key header may only contain printable ASCII characters; character ${at + 1} is not one`,
    };
  }
  return { ok: true, key };
}
