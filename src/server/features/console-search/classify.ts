import { isCorrelationId } from "../../platform/correlation";

/**
 * What the console's search box was given, classified once so each lookup runs only where an index
 * answers it: a UUID goes to primary keys and indexed id columns (exact), any token that could be a
 * correlation id, idempotency key or aggregate id to their indexed columns (exact), and any other
 * text to file names and e-mails: by prefix (btree), then, for 3+ characters, by substring (trigram
 * index; pg_trgm cannot use its index for fewer than 3 characters), each with a LIMIT.
 */
export interface ClassifiedQuery {
  text: string;
  /** Lower-cased, when the text is a UUID. */
  uuid: string | null;
  /** The text, when it has the shape of a correlation id (X-Request-Id). */
  correlationId: string | null;
  /** The text, when it is long enough for a substring search through a trigram index. */
  substring: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MIN_SUBSTRING_LENGTH = 3;

export function classifyQuery(q: string): ClassifiedQuery {
  const text = q.trim();
  return {
    text,
    uuid: UUID.test(text) ? text.toLowerCase() : null,
    correlationId: isCorrelationId(text) ? text : null,
    substring: text.length >= MIN_SUBSTRING_LENGTH ? text : null,
  };
}

const literal = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** `text` as a LIKE pattern that matches it anywhere, its own % _ and \ taken literally. */
export function containsPattern(text: string): string {
  return `%${literal(text)}%`;
}

/** `text` as a LIKE pattern that matches what starts with it. */
export function startsWithPattern(text: string): string {
  return `${literal(text)}%`;
}

/**
 * An upper bound of the strings that start with `text`, for a btree range (`>= text AND < bound`):
 * a plain btree serves LIKE 'x%' only in the C collation, a range in any. The LIKE beside it keeps
 * the answer exact; in a code-point order (C, C.UTF-8) the range holds every match. A linguistic
 * collation may order a few matches outside it: the substring lookup that follows still finds them.
 */
export function upperBoundOf(text: string): string {
  return `${text}\u{10FFFF}`;
}
