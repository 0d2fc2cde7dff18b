import { isCorrelationId } from "../../platform/correlation";

/**
 * What the console's search box was given, classified once so each lookup runs only where an index
 * answers it: a UUID goes to primary keys and indexed id columns (exact), any token that could be a
 * correlation id, idempotency key or aggregate id to their indexed columns (exact), and text of 3+
 * characters to the trigram indexes on file names and e-mails (substring, with a LIMIT). Shorter
 * text gets exact lookups only: pg_trgm cannot use its index for fewer than 3 characters.
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

/** `text` as a LIKE pattern that matches it anywhere, its own % _ and \ taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
